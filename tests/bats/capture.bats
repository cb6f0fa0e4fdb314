#!/usr/bin/env bats
# Captures: a tunnel's cleartext USB/IP as pcapng, from usbws-proxy
# --capture DIR (a file per tunnel) and from usbws capture (at will).
# What was captured is read back with tshark as USB/IP and checked against
# the transfer that went through: every CMD_SUBMIT answered by one
# RET_SUBMIT of its seqnum, the bulk reads the client made (N of K bytes,
# each carrying the source's i % 63 pattern), and their total equal to
# what the client read.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

FAST=(--ping-interval 1 --ping-timeout 3)

# what reads the captures back
need_tshark() {
	command -v tshark >/dev/null || skip "tshark is not installed (scripts/deps test)"
}

# usbip_fields FILE: a line per USB/IP message tshark decodes in FILE:
# command, seqnum, transfer_buffer_length, actual_length, endpoint,
# direction, status, data (hex), tab-separated
usbip_fields() {
	tshark -r "$1" -d tcp.port==3240,usbip -E occurrence=f -T fields -e usbip.urb -e usbip.sequence_no \
		-e usbip.transfer_buffer_length -e usbip.actual_length -e usbip.endpoint_number \
		-e usbip.endpoint_number.direction -e usbip.status -e usb.capdata 2>/dev/null | awk -F'\t' '$1 != ""'
}

# pattern_hex K: the source's K bytes of a read, i % 63, as tshark shows data
pattern_hex() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%02x", i % 63; print "" }'
}

# check_capture FILE K N BYTES: FILE holds the bulk reads of one client run
# (N reads of K bytes, BYTES in all, as the client said) and nothing else
# on the bulk endpoint, and every command its one reply
check_capture() {
	local file=$1 k=$2 n=$3 bytes=$4 fields=$WORK/${1##*/}.fields
	usbip_fields "$file" >"$fields"
	echo "$file: $(wc -l <"$fields") USB/IP messages"
	# each CMD_SUBMIT is answered by exactly one RET_SUBMIT of its seqnum,
	# and each RET_SUBMIT answers one (in order: a later importer numbers
	# its URBs from 1 again)
	awk -F'\t' '
		$1 == "0x00000001" { if (open[$2]++) { print "seqnum " $2 " submitted twice"; bad = 1 } cmds++ }
		$1 == "0x00000003" { if (!open[$2]--) { print "seqnum " $2 " answered unasked"; bad = 1 } }
		END { for (s in open) if (open[s]) { print "seqnum " s " never answered"; bad = 1 }
		      if (!cmds) { print "no CMD_SUBMIT"; bad = 1 }
		      exit bad }' "$fields"
	# the bulk IN commands: N of them, each for K bytes
	awk -F'\t' '$1 == "0x00000001" && $5 != "0x00" && $6 == "0x01" { print $3 }' "$fields" >"$fields.asked"
	[ "$(wc -l <"$fields.asked")" -eq "$n" ]
	[ "$(sort -u "$fields.asked")" = "$k" ]
	# their replies: N of K bytes, successful, the source's pattern each
	awk -F'\t' '$1 == "0x00000003" && $5 != "0x00" && $6 == "0x01" { print $4, $7, $8 }' "$fields" >"$fields.got"
	[ "$(wc -l <"$fields.got")" -eq "$n" ]
	[ "$(awk '{ print $1, $2 }' "$fields.got" | sort -u)" = "$k 0" ]
	[ "$(awk '{ print $3 }' "$fields.got" | sort -u)" = "$(pattern_hex "$k")" ]
	# what the client read, all of it
	[ "$(awk '{ sum += $1 } END { print sum }' "$fields.got")" -eq "$bytes" ]
	# nothing on the bulk endpoint but this client's reads
	[ "$(awk -F'\t' '$5 != "0x00"' "$fields" | wc -l)" -eq $((2 * n)) ]
}

# odd_node_cert: $PKI/odd.pem and .key, a node whose CN is "odd/../name é"
odd_node_cert() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/odd.key" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >"$PKI/odd.ext"
	openssl req -new -utf8 -key "$PKI/odd.key" -subj '/CN=odd\/..\/name é' 2>/dev/null |
		openssl x509 -req -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -set_serial 4242 -days 30 \
			-extfile "$PKI/odd.ext" -out "$PKI/odd.pem" 2>/dev/null
}

# bulk_read K N: the client reads N x K bytes from $BUSID's source; sets READ
bulk_read() {
	run "$CLIENT" --port "$USBIP_PORT" --urb "$1" --inflight 4 127.0.0.1 bulk "$BUSID" in $(($1 * $2))
	echo "$output"
	[ "$status" -eq 0 ]
	READ=$(sed -n 's/^bulk_in bytes=\([0-9]*\) .*/\1/p' <<<"$output")
	[ "$READ" -eq $(($1 * $2)) ]
}

# capture_start FILE [ARGS...]: usbws capture of $BUSID into FILE, in the
# background (CAPTURE_PID), its log FILE.log; returns once it captures
capture_start() {
	local file=$1
	shift
	"$USBWS" capture --device "$BUSID" "$@" "$file" 2>"$file.log" &
	CAPTURE_PID=$!
	PIDS+=($CAPTURE_PID)
	wait_for "$file.log" "^usbws: info: capturing $BUSID \(node node-1's 1-1\) into $(re "$file"); Ctrl-C stops$"
}

@test "--capture DIR: a file per tunnel, named by address, node and start time, holds the reads that went through it" {
	need_tshark
	mkdir "$WORK/cap"
	start_proxy "$WORK/proxy.log" server --vhci none --capture "$WORK/cap"
	start_node "$WORK/node.log" node sourcesink
	bulk_read 65536 16
	# the node leaves: the tunnel ends, and its capture with it
	kill "$NODE_PID"
	wait_for "$WORK/proxy.log" "capture of busid $BUSID into .* ended \(the device's tunnel ended\)"
	file=$(ls "$WORK/cap")
	echo "$file"
	[[ "$file" =~ ^${BUSID}_node-1_[0-9]{8}T[0-9]{6}Z\.pcapng$ ]]
	grep -q "node node-1: capturing busid $BUSID into $WORK/cap/$file$" "$WORK/proxy.log"
	# the device's data: not for everyone (0640, less what the umask takes)
	[ "$(stat -c %a "$WORK/cap/$file")" = "$(printf '%o' $((0640 & ~0$(umask))))" ]
	check_capture "$WORK/cap/$file" 65536 16 "$READ"
	# the proxy counts what tshark finds
	packets=$(wc -l <"$WORK/$file.fields")
	grep -q "ended (the device's tunnel ended): $packets packets in " "$WORK/proxy.log"
	# a node's identity goes into a file name only as [A-Za-z0-9._-]
	odd_node_cert
	start_node "$WORK/odd.log" odd sourcesink
	kill "$NODE_PID"
	wait_count "$WORK/proxy.log" "capture of busid .* ended" 2
	ls "$WORK/cap" | grep -xE "${BUSID}_odd_\.\._name____[0-9]{8}T[0-9]{6}Z\.pcapng"
	[ "$(ls "$WORK/cap" | wc -l)" -eq 2 ]
}

@test "usbws capture starts and stops at will, and a second capture holds only its own traffic" {
	need_tshark
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node sourcesink
	# traffic before the capture is not in it
	bulk_read 4096 3
	capture_start "$WORK/one.pcapng"
	bulk_read 65536 16
	kill -INT "$CAPTURE_PID"
	wait "$CAPTURE_PID"
	cat "$WORK/one.pcapng.log"
	check_capture "$WORK/one.pcapng" 65536 16 "$READ"
	packets=$(wc -l <"$WORK/one.pcapng.fields")
	grep -qE "^usbws: info: captured $packets packets of $BUSID \([0-9]+ bytes of USB/IP\) in [0-9]+ frames, $(stat -c %s "$WORK/one.pcapng") bytes into $WORK/one.pcapng$" \
		"$WORK/one.pcapng.log"
	grep -q "node node-1: capture of busid $BUSID for usbws capture ended (stopped): $packets packets" "$WORK/proxy.log"
	# between the two, traffic no capture holds
	bulk_read 8192 5
	capture_start "$WORK/two.pcapng"
	bulk_read 32768 8
	kill -TERM "$CAPTURE_PID"
	wait "$CAPTURE_PID"
	check_capture "$WORK/two.pcapng" 32768 8 "$READ"
	# and a third that ends by itself after 6 packets: the client's
	# first three control transfers
	capture_start "$WORK/three.pcapng" --count 6
	bulk_read 16384 2
	wait "$CAPTURE_PID"
	grep -qx "usbws: info: the capture of $BUSID ended: its count of 6 packets is reached" "$WORK/three.pcapng.log"
	[ "$(usbip_fields "$WORK/three.pcapng" | wc -l)" -eq 6 ]
	[ "$(usbip_fields "$WORK/three.pcapng" | awk -F'\t' '$5 != "0x00"' | wc -l)" -eq 0 ]
}

@test "usbws capture of devices on both threads, for --duration; the file is its user's, not the proxy's" {
	need_tshark
	# the proxy as another user, where this one is root
	user=()
	if [ "$(id -u)" = 0 ]; then
		user=(--user nobody)
	fi
	start_proxy "$WORK/proxy.log" server --vhci none --threads 2 "${user[@]}"
	start_node "$WORK/a.log" node sourcesink
	a=$BUSID
	start_node "$WORK/b.log" node2 sourcesink
	b=$BUSID
	# the two tunnels are on the two threads; proxy.sock is thread 0's
	# an older file of that name is replaced, once the proxy has said yes
	echo old >"$WORK/a.pcapng"
	BUSID=$a capture_start "$WORK/a.pcapng" --duration 4
	a_pid=$CAPTURE_PID
	"$USBWS" capture --device "$b" --duration 4 "$WORK/b.pcapng" 2>"$WORK/b.pcapng.log" &
	b_pid=$!
	PIDS+=($b_pid)
	wait_for "$WORK/b.pcapng.log" "capturing $b \(node node-2's 1-1\)"
	BUSID=$a bulk_read 65536 8
	a_read=$READ
	BUSID=$b bulk_read 32768 8
	b_read=$READ
	wait "$a_pid" || { cat "$WORK/a.pcapng.log" "$WORK/proxy.log"; false; }
	wait "$b_pid" || { cat "$WORK/b.pcapng.log" "$WORK/proxy.log"; false; }
	check_capture "$WORK/a.pcapng" 65536 8 "$a_read"
	check_capture "$WORK/b.pcapng" 32768 8 "$b_read"
	[ "$(stat -c %U "$WORK/a.pcapng")" = "$(id -un)" ]
	[ "$(stat -c %U "$WORK/b.pcapng")" = "$(id -un)" ]
}

@test "a capture follows its tunnel through resumes onto the other thread, its importer mid-read" {
	need_tshark
	mkdir "$WORK/cap"
	start_proxy "$WORK/proxy.log" server --vhci none --threads 2 --capture "$WORK/cap" "${FAST[@]}"
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/node.log" node sourcesink "${FAST[@]}" \
		--connect-timeout 2 --backoff-max 2
	capture_start "$WORK/one.pcapng"
	"$CLIENT" --port "$USBIP_PORT" --urb 1024 --inflight 1 127.0.0.1 bulk "$BUSID" in $((1024 * 8000)) \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)
	for i in 1 2; do
		sleep 0.3
		kill -0 "$client"
		kill -HUP "$RELAY_PID"
		sleep 0.3
		kill -USR2 "$RELAY_PID"
		wait_count "$WORK/proxy.log" "node node-1: busid $BUSID goes to service thread [01], where it resumes, its importer with it" "$i"
	done
	wait "$client"
	cat "$WORK/client.out"
	read=$(sed -n 's/^bulk_in bytes=\([0-9]*\) .*/\1/p' "$WORK/client.out")
	kill -INT "$CAPTURE_PID"
	wait "$CAPTURE_PID"
	check_capture "$WORK/one.pcapng" 1024 8000 "$read"
	# the file --capture DIR writes went along too
	kill "$NODE_PID"
	wait_for "$WORK/proxy.log" "capture of busid $BUSID into .* ended"
	check_capture "$WORK/cap/$(ls "$WORK/cap" | grep 'pcapng$')" 1024 8000 "$read"
	absent "closing its tunnel|stopped:" "$WORK/proxy.log"
}

@test "a capture whose reader goes away stops, saying so; the tunnel goes on" {
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node sourcesink
	# a FIFO whose reader takes 2000 bytes and leaves
	mkfifo "$WORK/fifo"
	head -c 2000 <"$WORK/fifo" >/dev/null &
	PIDS+=($!)
	"$USBWS" capture --device "$BUSID" "$WORK/fifo" 2>"$WORK/fifo.log" &
	cap=$!
	PIDS+=($cap)
	wait_for "$WORK/fifo.log" "capturing $BUSID"
	bulk_read 65536 16
	run wait "$cap"
	[ "$status" -eq 1 ]
	grep -qx "usbws: error: cannot write $WORK/fifo: Broken pipe; the capture stops" "$WORK/fifo.log"
	wait_for "$WORK/proxy.log" "capture of busid $BUSID for usbws capture"
	bulk_read 65536 16
	absent "closing its tunnel" "$WORK/proxy.log"
}

@test "--capture DIR on a full disk: the capture stops saying so, the tunnel goes on" {
	command -v unshare >/dev/null || skip "unshare is missing"
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace here"
	mkdir "$WORK/cap"
	# the proxy in a mount namespace of its own, DIR a 64 KiB tmpfs there
	cat >"$WORK/proxy-full-disk" <<-EOF
		#!/bin/sh
		exec unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs "\$0" && exec "\$@"' "$WORK/cap" \
			"$USBWS_BUILDDIR/proxy/usbws-proxy" "\$@"
	EOF
	chmod +x "$WORK/proxy-full-disk"
	PROXY_BIN() { echo "$WORK/proxy-full-disk"; }
	start_proxy "$WORK/proxy.log" server --vhci none --capture "$WORK/cap"
	start_node "$WORK/node.log" node sourcesink
	bulk_read 65536 16
	wait_for "$WORK/proxy.log" "node node-1: capture of busid $BUSID into $WORK/cap/.*\.pcapng stopped: cannot write: No space left on device \(the tunnel goes on\)"
	bulk_read 65536 16
	absent "closing its tunnel" "$WORK/proxy.log"
	# outside its namespace the directory is as it was
	[ -z "$(ls "$WORK/cap")" ]
}

@test "usbws capture refuses an unknown device and a FILE it cannot write, and leaves no file behind" {
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node sourcesink
	run "$USBWS" capture --device nope-0123456789abcdef "$WORK/nope.pcapng"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no device nope-0123456789abcdef on this proxy (usbws nodes lists them)" ]
	[ ! -e "$WORK/nope.pcapng" ]
	# an older file of that name is left as it was
	echo keep >"$WORK/keep.pcapng"
	run "$USBWS" capture --device nope-0123456789abcdef "$WORK/keep.pcapng"
	[ "$status" -eq 1 ]
	[ "$(cat "$WORK/keep.pcapng")" = keep ]
	run "$USBWS" capture --device "$BUSID" "$WORK/no/such/dir.pcapng"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot write $WORK/no/such/dir.pcapng: No such file or directory" ]
	run "$USBWS" capture --device "$BUSID" "$WORK"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot write $WORK: Is a directory" ]
	# the command line
	run "$USBWS" capture "$WORK/x.pcapng"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws capture: --device ID is required (usbws nodes lists them)" ]
	run "$USBWS" capture --device "$BUSID"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws capture: FILE is required (- for standard output)" ]
	run "$USBWS" capture --device "$BUSID" --duration 0 "$WORK/x.pcapng"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws capture: --duration wants seconds from 1 to 86400, not '0'" ]
	run "$USBWS" capture --device "$BUSID" --count many "$WORK/x.pcapng"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws capture: --count wants a number of packets from 1 to 10^12, not 'many'" ]
	# nothing of it reached the proxy's tunnel
	absent "capturing|capture of" "$WORK/proxy.log"
}

@test "--capture DIR that is missing, not a directory, or not writable by the proxy's user stops it at start" {
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--vhci none --capture "$WORK/missing"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "usbws-proxy: error: --capture $WORK/missing: No such file or directory" ]
	touch "$WORK/file"
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--vhci none --capture "$WORK/file"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "usbws-proxy: error: --capture $WORK/file: not a directory" ]
	mkdir "$WORK/ro"
	if [ "$(id -u)" = 0 ]; then
		# root writes anywhere: the check is as the user it becomes,
		# who may reach the directory but not write there
		chmod 755 "$WORK"
		run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" \
			--ca "$PKI/ca.pem" --vhci none --capture "$WORK/ro" --user nobody
		user=nobody
	else
		chmod 555 "$WORK/ro"
		run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" \
			--ca "$PKI/ca.pem" --vhci none --capture "$WORK/ro"
		user=$(id -un)
	fi
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "usbws-proxy: error: --capture $WORK/ro: cannot write there as user $user: Permission denied" ]
}
