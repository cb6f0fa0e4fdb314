#!/usr/bin/env bats
# The options files (usbws-proxy(8), usbws(1): FILES): real programs
# started from files alone, a bad line refused with "FILE:LINE: reason",
# the command line over the files, the units' ExecStart lines, and the
# installed examples, which must name every option and parse.
# $USBWS_CONF_DIR ($WORK/etc, usbws_setup's) stands for /etc/usbws.

load helpers

setup() {
	usbws_setup
	ETC=$USBWS_CONF_DIR
	mkdir -p "$ETC"
	SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
}
teardown() { usbws_teardown; }

# proxy_up LOG [ARGS...]: usbws-proxy with ARGS alone (no helper's
# options), until it re-exports; sets WSS_PORT, USBIP_PORT and URL
proxy_up() {
	local log=$1
	shift
	: >"$log"
	"$(PROXY_BIN)" "$@" 2>"$log" &
	PIDS+=($!)
	proxy_listening "$log"
}

# node_up LOG [ARGS...]: usbws connect ARGS alone, until its export is
# accepted; sets BUSID
node_up() {
	local log=$1
	shift
	: >"$log"
	"$USBWS" connect "$@" 2>"$log" &
	PIDS+=($!)
	node_exported "$log" 10
}

# proxy_conf: $ETC/proxy.conf for a proxy on loopback with the test PKI
proxy_conf() {
	cat >"$ETC/proxy.conf" <<-EOF
		# the proxy of this test
		listen = 127.0.0.1:0
		usbip-listen = 127.0.0.1:0

		cert = $PKI/server.pem
		key = $PKI/server.key
		ca = $PKI/ca.pem
		vhci = none
	EOF
}

# node_conf [FILE]: the link of node-1 to $URL, into FILE (default
# $ETC/connect.conf)
node_conf() {
	printf '%s\n' "url = $URL" "cert = $PKI/node.pem" "key = $PKI/node.key" "ca = $PKI/ca.pem" \
		>"${1:-$ETC/connect.conf}"
}

# table_options FILE [TABLE]: the long options of a getopt table in FILE,
# one a line (as cli.bats reads them)
table_options() {
	awk -v table="${2:-}" '/struct option/ && (table == "" || index($0, "struct option " table "[")) { inside = 1 }
	     inside && match($0, /\{ "[^"]+",/) { print substr($0, RSTART + 3, RLENGTH - 5) }
	     inside && /^\t*\};/ { inside = 0 }' "$1"
}

# example_keys FILE: the keys of an example's commented-out settings ("#KEY" or "#KEY = VALUE")
example_keys() {
	sed -n 's/^#\([a-z][a-z0-9-]*\)\( = .*\)\{0,1\}$/\1/p' "$1"
}

# uncommented FILE: the example with every setting set
# free_port: a TCP port nothing listens on now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

uncommented() {
	sed 's/^#\([a-z][a-z0-9-]*\( = .*\)\{0,1\}\)$/\1/' "$1"
}

@test "a proxy and a node started with no arguments read the default files, and a disk is read whole through them" {
	pki
	random_image "$WORK/disk.img" 4
	proxy_conf
	# CRLF line ends, a flag said as "= no", blanks and tabs around the parts
	printf 'usbip-listen-public = no\r\n\tauth-timeout\t=\t5  \r\n' >>"$ETC/proxy.conf"
	proxy_up "$WORK/proxy.log"
	node_conf
	echo "virtual = storage:$WORK/disk.img" >>"$ETC/connect.conf"
	node_up "$WORK/node.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	grep -q "node node-1 exported 0525:a4a5 (its 1-1) as busid $BUSID" "$WORK/proxy.log"
	# the file said vhci = none: nothing was attached
	absent "vhci_hcd" "$WORK/proxy.log"
}

@test "a bad line is refused with the file, the line and the reason, and nothing starts" {
	pki
	F=$ETC/proxy.conf
	bad() { # bad TEXT MESSAGE: usbws-proxy with the default file holding TEXT says MESSAGE, status 2
		printf '%b' "$1" >"$F"
		run "$(PROXY_BIN)"
		echo "$output"
		[ "$status" -eq 2 ]
		[ "$output" = "$2" ]
	}
	bad '# proxy\n\nlisen = 0.0.0.0:443\n' "usbws-proxy: $F:3: unknown option 'lisen' (did you mean 'listen'?)"
	bad 'listen = 127.0.0.1:0\nusbip-listen-publik\n' \
		"usbws-proxy: $F:2: unknown option 'usbip-listen-publik' (did you mean 'usbip-listen-public'?)"
	bad 'cert\n' "usbws-proxy: $F:1: 'cert' needs a value: 'cert = VALUE'"
	bad 'verbose = 1\n' "usbws-proxy: $F:1: 'verbose' is a flag: write it alone, or '= yes' or '= no', not '= 1'"
	bad 'listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n' \
		"usbws-proxy: $F:2: 'listen' again (first on line 1); it takes one value"
	bad 'config = /etc/usbws/other.conf\n' "usbws-proxy: $F:1: 'config' belongs on the command line, not in a file"
	bad 'listen 0.0.0.0:443\n' "usbws-proxy: $F:1: 'listen' and its value need a '=' between them"
	bad '--listen = 0.0.0.0:443\n' \
		"usbws-proxy: $F:1: '--listen': write the option's name without its dashes, as 'listen'"
	bad 'cert = a\0b\n' "usbws-proxy: $F:1: a NUL byte"
	bad '\n\ncert = \033[31mred\n' "usbws-proxy: $F:3: a control character (0x1b)"
	bad 'cert = caf\351.pem\n' \
		"usbws-proxy: $F:1: not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)"
	bad "cert = $(head -c 5000 /dev/zero | tr '\0' x)\n" "usbws-proxy: $F:1: line longer than 4096 bytes"
	# a value the option itself refuses: its own message, then the line
	bad 'listen = 127.0.0.1:0\n\nthreads = 0\n' \
		"usbws-proxy: --threads needs a number from 1 to 64, not '0'"$'\n'"usbws-proxy: $F:3: where that option was given"
	bad 'max-startups = 10:200:5\n' \
		"usbws-proxy: --max-startups needs START:RATE:FULL with RATE a percentage and START <= FULL, not '10:200:5'"$'\n'"usbws-proxy: $F:1: where that option was given"
	# a file named must be there, and be a file
	run "$(PROXY_BIN)" --config "$WORK/nope.conf"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: $WORK/nope.conf: No such file or directory" ]
	run "$(PROXY_BIN)" --config "$WORK"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: $WORK: not a regular file" ]
	# the node's files, the same way
	C=$ETC/connect.conf
	printf 'url = wss://localhost:1/usbip\ninstance = cam\n' >"$C"
	run "$USBWS" connect
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: $C:2: 'instance' belongs on the command line, not in a file" ]
	printf '# node\nmatch = 1050:0407\nmatch = zz:0407\n' >"$C"
	run "$USBWS" connect
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "usbws connect: --match zz:0407: "* ]]
	[ "${lines[1]}" = "usbws connect: $C:3: where that option was given" ]
	[ "${#lines[@]}" -eq 2 ]
	printf 'virtual = sourcesink\n' >"$C"
	run "$USBWS" connect --instance ../proxy
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --instance '../proxy': a name, without '/', not starting with '.'" ]
	# list reads no options file, and says so of --config
	run "$USBWS" list --local --config "$C"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws list: --config is for usbws connect" ]
	# --help and --version read no file: a broken one does not hide them
	printf 'lisen = 1\n' >"$F"
	run "$(PROXY_BIN)" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: usbws-proxy "* ]]
	run "$(PROXY_BIN)" -V
	[ "$status" -eq 0 ]
	printf 'lisen = 1\n' >"$C"
	run "$USBWS" connect -h
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: usbws connect "* ]]
}

@test "the command line wins over the files, a repeatable option's values all together; later files over earlier ones" {
	pki
	fake_sysfs
	fake_stub 1-1 1
	fake_stub 2-1 1
	# each of these would stop the proxy: the command line replaces them
	cat >"$WORK/proxy.conf" <<-EOF
		listen = 192.0.2.1:443
		threads = 0
		trusted-balancer = 192.0.2.7
		trusted-balancer = bogus
		balancer-listen = 127.0.0.1:0
		cert = $WORK/no-such.pem
		key = $PKI/server.key
		ca = $PKI/ca.pem
		usbip-listen = 127.0.0.1:0
		vhci = none
		verbose
	EOF
	# and a later file takes verbose back
	printf 'verbose = no\n' >"$WORK/quiet.conf"
	# the default file is not read once a --config is given
	printf 'lisen = 1\n' >"$ETC/proxy.conf"
	proxy_up "$WORK/proxy.log" --config "$WORK/proxy.conf" --config "$WORK/quiet.conf" --listen 127.0.0.1:0 \
		--thr 3 --trusted-balancer=127.0.0.1 --cert "$PKI/server.pem"
	grep -q "listening for nodes on 127.0.0.1:0 (port $WSS_PORT)" "$WORK/proxy.log"
	grep -q "serving on 3 threads" "$WORK/proxy.log"
	# the file said verbose, a later one verbose = no
	absent ": debug: " "$WORK/proxy.log"
	# the node: a second --config replaces the first's url; the command
	# line's --match replaces both of the file's
	node_conf "$WORK/a.conf"
	printf '%s\n' "match = 1050:0407" "match = 0bda:5411" "retries = 3" >>"$WORK/a.conf"
	printf '%s\n' "url = $URL" "retries = nine" >"$WORK/b.conf"
	sed -i 's|^url = .*|url = wss://192.0.2.1:443/usbip|' "$WORK/a.conf"
	"$USBWS" connect --config "$WORK/a.conf" --config "$WORK/b.conf" --match 0781:5581 --retries=0 \
		2>"$WORK/node.log" &
	PIDS+=($!)
	wait_for "$WORK/proxy.log" "node node-1 exported 0781:5581 \(its 2-1\) as busid" 20
	grep -q "usbws: info: exporting USB devices matching 0781:5581 to $URL" "$WORK/node.log"
	absent "1050:0407|0bda:5411" "$WORK/node.log"
	# --config none: no file at all, not even the default
	printf 'lisen = 1\n' >"$ETC/connect.conf"
	run "$USBWS" connect --config none --virtual sourcesink
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --url wss://HOST:PORT/usbip is required" ]
	run "$USBWS" connect --config "$WORK/a.conf" --config none --virtual sourcesink
	[ "$output" = "usbws connect: --url wss://HOST:PORT/usbip is required" ]
}

@test "the units' ExecStart lines read the files; an instance without NAME.conf exports the busid NAME" {
	pki
	fake_sysfs
	fake_stub 1-1 1
	proxy_unit=$USBWS_BUILDDIR/systemd/usbws-proxy.service
	node_unit=$USBWS_BUILDDIR/systemd/usbws-connect@.service
	proxy_exec=$(sed -n 's/^ExecStart=//p' "$proxy_unit")
	node_exec=$(sed -n 's/^ExecStart=//p' "$node_unit")
	[[ "$proxy_exec" =~ ^/[^\ ]*/usbws-proxy\ --config\ /etc/usbws/proxy.conf$ ]]
	[[ "$node_exec" =~ ^/[^\ ]*/usbws\ connect\ --user\ usbws\ --config\ /etc/usbws/connect.conf\ --instance\ %i$ ]]
	# no environment files any more
	absent "EnvironmentFile|USBWS_.*_ARGS" "$proxy_unit"
	absent "EnvironmentFile|USBWS_.*_ARGS" "$node_unit"
	# those lines here: /etc/usbws is $ETC, the built programs, no --user
	# (no user usbws on a test machine)
	read -ra args <<<"${proxy_exec//\/etc\/usbws/$ETC}"
	proxy_conf
	proxy_up "$WORK/proxy.log" "${args[@]:1}"
	node_conf
	read -ra args <<<"${node_exec//\/etc\/usbws/$ETC}"
	args=("${args[@]:1}")
	[ "${args[1]} ${args[2]}" = "--user usbws" ]
	unset 'args[1]' 'args[2]'
	# usbws-connect@1-1: no 1-1.conf, so it exports the device 1-1
	[ ! -e "$ETC/1-1.conf" ]
	"$USBWS" "${args[@]//%i/1-1}" 2>"$WORK/node.log" &
	PIDS+=($!)
	wait_for "$WORK/proxy.log" "node node-1 exported 1050:0407 \(its 1-1\) as busid" 10
	wait_for "$WORK/node.log" "usbip-host 1-1 has its socket; relaying"
	# usbws-connect@cam: its cam.conf says what to export, so no busid cam
	printf '%s\n' "# the bench camera" "virtual = sourcesink" "busid = 9-9" >"$ETC/cam.conf"
	"$USBWS" "${args[@]//%i/cam}" 2>"$WORK/cam.log" &
	PIDS+=($!)
	wait_for "$WORK/proxy.log" "node node-1 exported 0525:a4a0 \(its 9-9\) as busid" 10
	absent "cam" "$WORK/proxy.log"
}

@test "the examples name every option, and set as they are, start a proxy and a node" {
	pki
	"$BATS_TEST_DIRNAME/../pki.sh" "$PKI" --identities >/dev/null
	fake_sysfs
	for ex in proxy connect; do
		if [ $ex = proxy ]; then
			opts=$(table_options "$SRC/proxy/main.c" | grep -vxE 'config|help|version')
		else
			opts=$(table_options "$SRC/usbws/cmd.c" cmd_link_options | grep -vxE 'config|instance|help')
		fi
		[ "$(wc -l <<<"$opts")" -gt 15 ]
		keys=$(example_keys "$SRC/doc/$ex.conf.example")
		missing=$(comm -23 <(sort -u <<<"$opts") <(sort -u <<<"$keys"))
		extra=$(comm -13 <(sort -u <<<"$opts") <(sort -u <<<"$keys"))
		[ -z "$missing" ] || { echo "doc/$ex.conf.example lacks: $missing"; false; }
		[ -z "$extra" ] || { echo "doc/$ex.conf.example names no option of the program: $extra"; false; }
		# each key once, as a file may hold it (crl, pin, match: one example each)
		[ -z "$(sort <<<"$keys" | uniq -d)" ]
	done
	# as shipped, every setting commented out: a file that sets nothing
	proxy_up "$WORK/proxy-shipped.log" --config "$SRC/doc/proxy.conf.example" --listen 127.0.0.1:0 \
		--usbip-listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci none
	stop_procs
	# every setting set: the command line overrides what cannot be on a
	# test machine (addresses, files, the user)
	uncommented "$SRC/doc/proxy.conf.example" >"$WORK/proxy.conf"
	[ "$(grep -c '^[a-z]' "$WORK/proxy.conf")" -eq "$(example_keys "$SRC/doc/proxy.conf.example" | wc -l)" ]
	# nobody, once the proxy is that, must reach its capture directory
	chmod 0711 "$WORK"
	mkdir -m 0777 "$WORK/captures"
	proxy_up "$WORK/proxy.log" --config "$WORK/proxy.conf" --listen 127.0.0.1:0 --balancer-listen 127.0.0.1:0 \
		--usbip-listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--crl "$PKI/crl-none.pem" --policy none --sysfs-root "$USBWS_SYSFS_ROOT" --user nobody \
		--capture "$WORK/captures" --metrics-listen "127.0.0.1:$(free_port)"
	grep -q "running as nobody" "$WORK/proxy.log"
	# the node's: one device, of those the example lists, and no HTTP proxy here
	uncommented "$SRC/doc/connect.conf.example" | grep -vE '^(device|match|proxy) = ' >"$WORK/connect.conf"
	node_up "$WORK/node.log" --config "$WORK/connect.conf" --url "$URL" --cert "$PKI/node.pem" \
		--key "$PKI/node.key" --ca "$PKI/ca.pem" --virtual sourcesink --user nobody \
		--metrics-listen "127.0.0.1:$(free_port)"
	grep -q "node node-1 exported 0525:a4a0 (its 1-1) as busid $BUSID" "$WORK/proxy.log"
	# the lines left out pass their options' checks too: what stops this
	# node is only that it cannot export both
	uncommented "$SRC/doc/connect.conf.example" | grep -E '^(device|match|proxy) = ' >"$WORK/device.conf"
	[ "$(wc -l <"$WORK/device.conf")" -eq 3 ]
	run "$USBWS" connect --config "$WORK/device.conf" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == "usbws connect: --match and --device do not go together: "* ]]
}
