#!/usr/bin/env bats
# The proxy's listeners as the open internet meets them: each binds exactly
# the address asked for, and what a peer that has not authenticated can
# cost is bounded per source, in all, in time and in file descriptors.

load helpers

setup() {
	usbws_setup
	pki
	HOLD="python3 $BATS_TEST_DIRNAME/../holdconns.py"
}
teardown() { usbws_teardown; }

# tcp_connect HOST PORT: prints "connected" or why not
tcp_connect() {
	python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close(); print("connected")
except OSError as e:
    print(e.strerror)' "$1" "$2"
}

# cpu_ticks PID: user + system clock ticks the process has used
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# cpu_percent PID SECS: the share of one core PID used over the next SECS
cpu_percent() {
	local t0 t1
	t0=$(cpu_ticks "$1")
	sleep "$2"
	t1=$(cpu_ticks "$1")
	echo $(((t1 - t0) * 100 / ($2 * $(getconf CLK_TCK))))
}

# proxy_at LOG LISTEN USBIP-LISTEN [ARGS...]: a proxy on these addresses
proxy_at() {
	PROXY_LISTEN=$2 PROXY_USBIP_LISTEN=$3 start_proxy "$1" server "${@:4}"
}

# listens_only_on ADDR OTHER: the proxy's listening sockets are its two
# listeners, both on ADDR (ss, by the proxy's pid), and OTHER, the other
# family's loopback, is refused on both ports
listens_only_on() {
	local port other=$2
	[[ $other == *:* ]] && other="[$other]"
	run bash -c "ss -ltnHp | grep 'pid=$PROXY_PID,'"
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *" $1:"* ]]
	[[ "${lines[1]}" == *" $1:"* ]]
	# a test running beside this one may listen on OTHER with the same
	# port number (the families' ports are apart): that is not ours
	for port in "$WSS_PORT" "$USBIP_PORT"; do
		ss -ltnH "( sport = :$port )" | grep -qF " $other:$port " && continue
		[ "$(tcp_connect "$2" "$port")" = "Connection refused" ]
	done
}

@test "an IPv4 address binds that IPv4 address only, on both listeners" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0
	listens_only_on 127.0.0.1 ::1
	[ "$(tcp_connect 127.0.0.1 "$USBIP_PORT")" = connected ]
}

@test "a bracketed IPv6 address binds that IPv6 address only" {
	proxy_at "$WORK/proxy.log" "[::1]:0" "[::1]:0"
	listens_only_on "[::1]" 127.0.0.1
	# and a node reaches it there
	random_image "$WORK/disk.img" 1
	URL="wss://[::1]:$WSS_PORT/usbip"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	"$CLIENT" --port "$USBIP_PORT" ::1 read-disk "$BUSID" "$WORK/read.img"
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "usbws serve binds exactly what it was asked too" {
	"$USBWS" serve --listen 127.0.0.1:0 --virtual sourcesink 2>"$WORK/serve.log" &
	PIDS+=($!)
	wait_for "$WORK/serve.log" "\(port [0-9]+\)"
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$WORK/serve.log")
	run ss -ltnH "( sport = :$port )"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *" 127.0.0.1:$port "* ]]
	[ "$(tcp_connect ::1 "$port")" = "Connection refused" ]
}

@test "a USB/IP importer that sends no request is closed after --usbip-timeout; importers are capped" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0 --usbip-timeout 2 --usbip-max-clients 5 \
		--usbip-max-per-source 5
	$HOLD 127.0.0.2 127.0.0.1 "$USBIP_PORT" 8 6 >"$WORK/hold.out" &
	PIDS+=($!)
	wait_for "$WORK/hold.out" "^opened=" 10
	# 3 past the cap are closed at once, the 5 silent ones after 2 s
	grep -qx "opened=8 closed_within_1s=3 closed_later=5 still_open=0" "$WORK/hold.out"
	wait_count "$WORK/proxy.log" "usbip-listen 127\.0\.0\.1:0: refused a connection from 127\.0\.0\.2:[0-9]+: too many connections at once \(--usbip-max-clients\)" 3
	wait_count "$WORK/proxy.log" "usbip-listen 127\.0\.0\.1:0: closing the connection from 127\.0\.0\.2:[0-9]+: no USB/IP request within 2 s" 5
	# an importer that has its device may stay silent past the deadline
	start_node "$WORK/node.log" node sourcesink
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 flood "$BUSID" 0 4
	[ "$status" -eq 0 ]
	wait_for "$WORK/proxy.log" "busid $BUSID released by its importer"
	[ "$(grep -c "closing the connection from 127\.0\.0\.1" "$WORK/proxy.log")" -eq 0 ]
}

@test "a connection that completes TLS but sends no hello is closed after --auth-timeout" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0 --auth-timeout 2
	start=$(date +%s)
	# a valid node certificate, and then nothing
	run timeout 20 openssl s_client -quiet -connect "127.0.0.1:$WSS_PORT" -cert "$PKI/node.pem" \
		-key "$PKI/node.key" -CAfile "$PKI/ca.pem" < <(sleep 15)
	[ $(($(date +%s) - start)) -lt 10 ]
	grep -qE "^usbws-proxy: warning: --listen 127\.0\.0\.1:0: closing the connection from 127\.0\.0\.1:[0-9]+: no authenticated hello within 2 s$" "$WORK/proxy.log"
}

@test "2,000 idle connections on each listener at the unit's fd limit: a node still exports and reads its disk within 5 s" {
	# as systemd starts it: the soft limit 1024, the hard one the unit's
	# (or this machine's, if lower and it cannot be raised here)
	limit=$(sed -n 's/^LimitNOFILE=//p' "$BATS_TEST_DIRNAME/../../systemd/usbws-proxy.service.in")
	[ "$limit" -ge 8192 ]
	[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$limit" ] || limit=$(ulimit -Hn)
	echo "# hard limit $limit" >&3
	random_image "$WORK/disk.img" 4
	NOFILE=1024:$limit proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0
	pid=${PIDS[0]}
	$HOLD 127.0.0.2 127.0.0.1 "$WSS_PORT" 2000 60 >"$WORK/hold-wss.out" &
	PIDS+=($!)
	$HOLD 127.0.0.3 127.0.0.1 "$USBIP_PORT" 2000 60 >"$WORK/hold-usbip.out" &
	PIDS+=($!)
	wait_for "$WORK/hold-wss.out" "^held 2000$" 20
	wait_for "$WORK/hold-usbip.out" "^held 2000$" 20
	cpu=$(cpu_percent "$pid" 3)
	echo "# proxy CPU with 4,000 idle connections held: $cpu %" >&3
	[ "$cpu" -lt 20 ]
	t0=$(date +%s%N)
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	t1=$(date +%s%N)
	cmp "$WORK/disk.img" "$WORK/read.img"
	echo "# node in and disk read in $(((t1 - t0) / 1000000)) ms" >&3
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	[ "$(cpu_percent "$pid" 3)" -lt 20 ]
	# what was refused, and that the log says so without flooding
	grep -qE "refused a connection from 127\.0\.0\.2:[0-9]+: too many connections from this address \(--max-startups-per-source\)" "$WORK/proxy.log"
	grep -qE "refused a connection from 127\.0\.0\.3:[0-9]+: too many connections from this address \(--usbip-max-per-source\)" "$WORK/proxy.log"
	[ "$(wc -l <"$WORK/proxy.log")" -lt 40 ]
}

@test "out of file descriptors the proxy stops accepting for a moment instead of spinning, and recovers" {
	NOFILE=200:200 proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0 --auth-timeout 2 --max-startups-per-source 5000 \
		--max-startups 5000
	pid=${PIDS[0]}
	$HOLD 127.0.0.2 127.0.0.1 "$WSS_PORT" 400 60 >"$WORK/hold.out" &
	hold_pid=$!
	PIDS+=($hold_pid)
	wait_for "$WORK/hold.out" "^held 400$" 20
	wait_for "$WORK/proxy.log" "out of file descriptors \(limit 200, Too many open files\); not accepting for 250 ms"
	cpu=$(cpu_percent "$pid" 3)
	echo "# proxy CPU out of descriptors: $cpu %" >&3
	[ "$cpu" -lt 20 ]
	kill "$hold_pid"
	wait_for "$WORK/hold.out" "^opened=400 " 10
	start_node "$WORK/node.log" node sourcesink
	# a few lines and a sum, not a line per failed accept
	[ "$(grep -c "out of file descriptors (limit" "$WORK/proxy.log")" -le 10 ]
}

@test "a peer that connects and leaves is no refusal; refusals name the peer and are summed up, not flooded" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.1:0
	python3 -c 'import socket, ssl, sys
port = int(sys.argv[1])
for i in range(200):
    s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", port)); s.close()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for i in range(50):
    s = socket.socket(); s.bind(("127.0.0.3", 0)); s.connect(("127.0.0.1", port))
    t = ctx.wrap_socket(s)
    try:
        t.recv(1)
    except (ssl.SSLError, OSError):
        pass
    t.close()' "$WSS_PORT"
	wait_for "$WORK/proxy.log" "refused [0-9]+ more TLS handshakes or upgrades in the last 10 s" 15
	absent "decode error|127\.0\.0\.2" "$WORK/proxy.log"
	[ "$(grep -cE "^usbws-proxy: warning: TLS handshake with 127\.0\.0\.3:[0-9]+ refused: certificate required \(the node sent no client certificate\)$" "$WORK/proxy.log")" -eq 5 ]
	grep -qx "usbws-proxy: warning: refused 45 more TLS handshakes or upgrades in the last 10 s" "$WORK/proxy.log"
}

# proxy_refused USBIP-LISTEN [ARGS...]: starts a proxy that must refuse to
# start; $output is its log, $status its exit status
proxy_refused() {
	run timeout 10 "$(PROXY_BIN)" --listen 127.0.0.1:0 --usbip-listen "$1" --cert "$PKI/server.pem" \
		--key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci none "${@:2}"
}

RISK="USB/IP has no authentication: anyone who reaches it can take a device"

@test "--usbip-listen refuses an address off loopback at start, and says how to serve it there anyway" {
	for addr in 0.0.0.0:3240 "[::]:3240" 192.0.2.7:3240 "[2001:db8::7]:3240" ":::3240"; do
		proxy_refused "$addr"
		echo "$addr: $status: $output"
		[ "$status" -eq 1 ]
		[ "${lines[-1]}" = "usbws-proxy: error: --usbip-listen $addr: not a loopback address; $RISK. Add --usbip-listen-public to serve it there anyway" ]
		# refused before any listener opened
		[[ "$output" != *"listening for nodes"* ]]
	done
	# the flag alone is a usage error
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --usbip-listen-public --cert "$PKI/server.pem" --key "$PKI/server.key" \
		--ca "$PKI/ca.pem"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --usbip-listen-public goes with --usbip-listen ADDR:PORT" ]
}

@test "--usbip-listen takes any loopback address, or a name that has only loopback addresses" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 127.0.0.7:0
	absent "warning: --usbip-listen" "$WORK/proxy.log"
	stop_procs
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 localhost:0
	absent "warning: --usbip-listen" "$WORK/proxy.log"
}

@test "a name that resolves off loopback is refused, naming the address" {
	command -v unshare >/dev/null || skip "unshare is missing"
	printf '192.0.2.7 lan-host.test\n127.0.0.1 loop-host.test\n' >"$WORK/hosts"
	# this test's own /etc/hosts, in a mount namespace of its own
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace here"
	run unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$WORK/hosts" \
		timeout 10 "$(PROXY_BIN)" --listen 127.0.0.1:0 --usbip-listen lan-host.test:3240 --cert "$PKI/server.pem" \
		--key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci none
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "usbws-proxy: error: --usbip-listen lan-host.test:3240: lan-host.test resolves to 192.0.2.7, not a loopback address; $RISK. Add --usbip-listen-public to serve it there anyway" ]
}

@test "--usbip-listen-public serves off loopback, with a warning at start" {
	proxy_at "$WORK/proxy.log" 127.0.0.1:0 0.0.0.0:0 --usbip-listen-public
	grep -qx "usbws-proxy: warning: --usbip-listen 0\.0\.0\.0:0: not a loopback address, served as --usbip-listen-public asks; $RISK" \
		"$WORK/proxy.log"
	run ss -ltnH "( sport = :$USBIP_PORT )"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *" 0.0.0.0:$USBIP_PORT "* ]]
	# and it serves: an importer lists a node's device through it
	start_node "$WORK/node.log" node sourcesink
	usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1 | grep -q "$BUSID"
}
