#!/usr/bin/env bats
# Tunnels that survive the network: keepalive, reconnect with backoff,
# session resumption, and what happens past the resume time.  The outage
# is made here, by tests/tcprelay between the node and the proxy: SIGUSR1
# blackholes every connection (a dead link), SIGUSR2 ends it and resets
# what was open (a NAT that lost its state), SIGHUP cuts at once.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# relay_to PORT: start_relay, and RELAY_URL, the proxy's URL through it
relay_to() {
	start_relay "$1" || return 1
	RELAY_URL=wss://localhost:$RELAY_PORT/usbip
}

# fast keepalive on both sides, so outages are noticed within seconds
FAST=(--ping-interval 1 --ping-timeout 3)

# node_via_relay LOG SPEC [ARGS...]: a node that reaches the proxy through the relay
node_via_relay() {
	local log=$1 spec=$2
	shift 2
	URL=$RELAY_URL start_node "$log" node "$spec" "${FAST[@]}" --connect-timeout 2 --backoff-max 2 "$@"
}

@test "a 5 s outage in the middle of a read: nothing lost, same busid, the session resumed" {
	random_image "$WORK/disk.img" 48
	start_proxy "$WORK/proxy.log" server "${FAST[@]}"
	relay_to "$WSS_PORT"
	node_via_relay "$WORK/node.log" "storage:$WORK/disk.img"
	first_busid=$BUSID
	# small URBs one or two at a time: the read takes long enough to cut into
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 2 127.0.0.1 read-disk "$BUSID" "$WORK/read.img" \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)
	sleep 0.5
	kill -0 "$client"    # still reading when the link goes
	kill -USR1 "$RELAY_PID"
	wait_for "$WORK/node.log" "lost the proxy \(nothing heard for 3 s: keepalive timeout\); the device stays exported"
	sleep 2
	kill -0 "$client"    # the read waits; it has not failed
	kill -USR2 "$RELAY_PID"
	wait "$client"
	cat "$WORK/client.out"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	grep -q "resumed session with the proxy" "$WORK/node.log"
	grep -qE "node node-1 resumed busid $first_busid after [0-9]+ s" "$WORK/proxy.log"
	# one export only: the device never left the proxy
	[ "$(grep -c 'exported 0525:a4a5' "$WORK/proxy.log")" -eq 1 ]
	# the proxy found the silent link dead too, and said why
	grep -qE "node node-1: nothing heard for [0-9]+ s \(keepalive timeout\)|a newer connection resumes busid $first_busid" "$WORK/proxy.log"
	"$USBWS" status --json | grep -q '"resumes": *[1-9]'
}

@test "writes during cut links land once and in order" {
	head -c 33554432 /dev/zero >"$WORK/disk.img"
	head -c 25165824 /dev/urandom >"$WORK/patch.bin"
	start_proxy "$WORK/proxy.log" server "${FAST[@]}"
	relay_to "$WSS_PORT"
	node_via_relay "$WORK/node.log" "storage:$WORK/disk.img"
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 1 127.0.0.1 write-disk "$BUSID" "$WORK/patch.bin" 0 \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)
	# three abrupt cuts while the writes go on; the first surely lands mid-write
	sleep 0.3
	kill -0 "$client"
	for i in 1 2 3; do
		kill -0 "$client" || break
		kill -HUP "$RELAY_PID"
		sleep 0.3
		kill -USR2 "$RELAY_PID"
		sleep 0.5
	done
	wait "$client"
	dd if="$WORK/disk.img" of="$WORK/landed.bin" bs=4096 count=6144 status=none
	cmp "$WORK/patch.bin" "$WORK/landed.bin"
	[ "$(grep -c 'resumed session with the proxy' "$WORK/node.log")" -ge 1 ]
	[ "$(grep -c 'exported 0525:a4a5' "$WORK/proxy.log")" -eq 1 ]
}

@test "past the resume time the device leaves the proxy, and comes back by itself" {
	random_image "$WORK/disk.img" 4
	start_proxy "$WORK/proxy.log" server "${FAST[@]}" --resume-time 2
	relay_to "$WSS_PORT"
	node_via_relay "$WORK/node.log" "storage:$WORK/disk.img"
	first_busid=$BUSID
	kill -USR1 "$RELAY_PID"
	# the keepalive (3 s) and the resume time (2 s), each seen on a 1 s tick
	wait_for "$WORK/proxy.log" "node node-1 did not resume within 2 s; detaching busid $first_busid" 15
	# the proxy's own keepalive found the silent link first, on time
	grep -qE "node node-1: nothing heard for [34] s \(keepalive timeout\); dropping its connection" "$WORK/proxy.log"
	# gone from the proxy's listing while the link is down
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$first_busid" "$WORK/read.img"
	[ "$status" -ne 0 ]
	wait_for "$WORK/node.log" "no reconnect within 2 s: the proxy has let the session go"
	kill -USR2 "$RELAY_PID"
	for i in $(seq 200); do
		[ "$(grep -c 'on the proxy, which knows this node as node-1' "$WORK/node.log")" -ge 2 ] && break
		sleep 0.1
	done
	grep -q "the proxy has no session to resume\|exporting afresh" "$WORK/node.log" ||
		grep -q "connected to $RELAY_URL$" "$WORK/node.log"
	busid=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$WORK/node.log" | tail -1)
	# exported afresh, under the same stable address
	[ "$busid" = "$first_busid" ]
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$busid" "$WORK/read.img"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
}

@test "with --user the node reconnects, reopens its device and exports afresh past the resume time, as that user" {
	random_image "$WORK/disk.img" 4
	# the image is opened again for the fresh export, by nobody by then
	chmod 0666 "$WORK/disk.img"
	chmod 0755 "$WORK"
	start_proxy "$WORK/proxy.log" server "${FAST[@]}" --resume-time 2
	relay_to "$WSS_PORT"
	node_via_relay "$WORK/node.log" "storage:$WORK/disk.img" --user nobody
	first_busid=$BUSID
	grep -q "running as nobody (uid $(id -u nobody))" "$WORK/node.log"
	kill -USR1 "$RELAY_PID"
	wait_for "$WORK/node.log" "no reconnect within 2 s: the proxy has let the session go" 15
	kill -USR2 "$RELAY_PID"
	for i in $(seq 200); do
		[ "$(grep -c 'on the proxy, which knows this node as node-1' "$WORK/node.log")" -ge 2 ] && break
		sleep 0.1
	done
	busid=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$WORK/node.log" | tail -1)
	# exported afresh, under the same stable address
	[ "$busid" = "$first_busid" ]
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$busid" "$WORK/read.img"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$NODE_PID/status")" = "$(id -u nobody)" ]
}

@test "a proxy killed and restarted: the node is back within its backoff, exported afresh on one connection" {
	random_image "$WORK/disk.img" 4
	start_proxy "$WORK/proxy.log" server "${FAST[@]}"
	port=$WSS_PORT
	start_node "$WORK/node.log" node "storage:$WORK/disk.img" "${FAST[@]}" --backoff-max 2
	[ "$(grep -c "connected to $URL" "$WORK/node.log")" -eq 1 ]
	kill -KILL "${PIDS[0]}"
	wait_for "$WORK/node.log" "lost the proxy"
	sleep 3    # a few attempts fail while it is down
	start_proxy "$WORK/proxy2.log" server "${FAST[@]}" --listen "127.0.0.1:$port"
	start=$(date +%s%N)
	wait_count "$WORK/proxy2.log" "exported 0525:a4a5" 1
	echo "back $((($(date +%s%N) - start) / 1000000)) ms after the restart (backoff cap 2 s)" >&3
	grep -q "the proxy has no session to resume" "$WORK/node.log"
	grep -qE "attempt [0-9]+ failed; next in [0-2]\.[0-9] s" "$WORK/node.log"
	# one handshake: the resume the new proxy cannot honour turns into the
	# export on the same connection
	wait_for "$WORK/node.log" "on the proxy, which knows this node as node-1"
	[ "$(grep -c "connected to $URL" "$WORK/node.log")" -eq 2 ]
	grep -q "info: exporting afresh on this connection" "$WORK/node.log"
	absent "exporting afresh on a new connection" "$WORK/node.log"
	grep -q "node node-1: no session [0-9a-f]\{8\}\.\.\. for node node-1 here: .*; it may export afresh on this connection" \
		"$WORK/proxy2.log"
	absent "closing its tunnel" "$WORK/proxy2.log"
	busid=$(sed -n 's/.*exported 0525:a4a5 (its 1-1) as busid \([^,]*\),.*/\1/p' "$WORK/proxy2.log")
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$busid" "$WORK/read.img"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
}

@test "a node stopped while its TLS handshake hangs stops at once, with status 0" {
	start_proxy "$WORK/proxy.log" server
	relay_to "$WSS_PORT"
	# the relay takes the connection and passes nothing: the handshake hangs
	kill -USR1 "$RELAY_PID"
	"$USBWS" connect --url "$RELAY_URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --connect-timeout 60 2>"$WORK/node.log" &
	node=$!
	PIDS+=($node)
	sleep 1
	kill -0 "$node"
	absent "connected to" "$WORK/node.log"
	kill -TERM "$node"
	# well before the 60 s connect timeout
	for _ in $(seq 100); do kill -0 "$node" 2>/dev/null || break; sleep 0.1; done
	run kill -0 "$node"
	[ "$status" -ne 0 ]
	rc=0
	wait "$node" || rc=$?
	cat "$WORK/node.log"
	[ "$rc" -eq 0 ]
	grep -q "info: stopped while connecting to $RELAY_URL" "$WORK/node.log"
	absent "error" "$WORK/node.log"
}

# a node's hello for an export of 0525:a4a5, its 1-1, and the OP_REQ_EXPORT that follows
EXPORT_HELLO='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[{"class":"08","subclass":"06","protocol":"50"}]}}'
export_req() {
	hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; printf '%0*d' $((($2 - ${#1}) * 2)) 0; }
	echo "0111 8006 00000000 $(hex /sys/devices/x/1-1 256)$(hex 1-1 32) 00000001 00000002 00000003 0525 a4a5 0100 00 00 00 01 01 01"
}
UNKNOWN_RESUME='{"type":"hello","version":1,"role":"resume","session":"00112233445566778899aabbccddeeff","received":0}'

@test "a node that names an unknown session is told so; a bad acknowledgement ends only its tunnel" {
	start_proxy "$WORK/proxy.log"
	run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --text "$UNKNOWN_RESUME"
	echo "$output"
	[[ "$output" == *'"code":"no-session"'* ]]
	grep -q "no session 00112233... for node node-1 here" "$WORK/proxy.log"
	run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --text '{"type":"hello","version":1,"role":"resume","session":"xyz","received":0}'
	[[ "$output" == *'field \"session\" must be 32 lowercase hex digits'* ]]
}

@test "no-session keeps the connection: an export hello on it is welcomed, and the device is listed" {
	start_proxy "$WORK/proxy.log"
	"$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --timeout 30 --text "$UNKNOWN_RESUME" --text "$EXPORT_HELLO" --hex "$(export_req)" \
		>"$WORK/peer.out" 2>&1 &
	PIDS+=($!)
	wait_for "$WORK/peer.out" '"type":"welcome"'
	cat "$WORK/peer.out"
	# the refusal, offering the connection, then the welcome on it: one connection
	grep -q '^text: {"type":"error","code":"no-session","message":"no session 00112233... for node node-1 here: .*","fresh":true}$' \
		"$WORK/peer.out"
	[ "$(grep -n '"type":"error"' "$WORK/peer.out" | cut -d: -f1)" -lt "$(grep -n '"type":"welcome"' "$WORK/peer.out" | cut -d: -f1)" ]
	absent "closed|connection closed" "$WORK/peer.out"
	grep -q "node node-1 exported 0525:a4a5 (its 1-1)" "$WORK/proxy.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^node-1-[0-9a-f]{16}\ 0525:a4a5\ speed=3\ interfaces=1$ ]]
}

@test "after no-session only one export hello may follow: a second resume, a listing or data first are refused" {
	start_proxy "$WORK/proxy.log"
	peer() {
		run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
			--ca "$PKI/ca.pem" --text "$UNKNOWN_RESUME" "$@"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *'"code":"no-session"'*'"fresh":true'* ]]
	}
	peer --text "$UNKNOWN_RESUME"
	[[ "$output" == *'{"type":"error","code":"protocol","message":"hello with role resume after no-session: only an export may follow on this connection"}'* ]]
	peer --text '{"type":"hello","version":1,"role":"list"}'
	[[ "$output" == *'"message":"hello with role list after no-session: only an export may follow on this connection"'* ]]
	[[ "$output" != *'"type":"nodes"'* ]]
	peer --hex "$(export_req)"
	[[ "$output" == *'{"type":"error","code":"protocol","message":"USB/IP data before the hello message"}'* ]]
	peer --text "$EXPORT_HELLO" --text "$EXPORT_HELLO"
	[[ "$output" == *'{"type":"error","code":"protocol","message":"second hello"}'* ]]
	[ "$(grep -c "closing its tunnel" "$WORK/proxy.log")" -eq 4 ]
}

@test "a node that ignores fresh (usbws 0.x) closes after no-session and exports on a new connection" {
	start_proxy "$WORK/proxy.log"
	# it reads the error, and drops the connection it does not know it may keep
	run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --timeout 2 --text "$UNKNOWN_RESUME"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *'"code":"no-session"'* ]]
	start_node "$WORK/node.log" node sourcesink
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 bulk "$BUSID" in 1048576
	[ "$status" -eq 0 ]
	[[ "$output" == "bulk_in bytes=1048576 "* ]]
	absent "closing its tunnel|: error:" "$WORK/proxy.log"
}

@test "a session is resumed only by its own identity: node-2 naming node-1's session is refused" {
	start_proxy "$WORK/proxy.log"
	# node-1 (a fake one, which prints the welcome and its session) exports
	# a device: hello, then OP_REQ_EXPORT for 0525:a4a5, its 1-1
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[{"class":"08","subclass":"06","protocol":"50"}]}}'
	hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; printf '%0*d' $((($2 - ${#1}) * 2)) 0; }
	export_req="0111 8006 00000000 $(hex /sys/devices/x/1-1 256)$(hex 1-1 32) 00000001 00000002 00000003 0525 a4a5 0100 00 00 00 01 01 01"
	"$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --timeout 30 --text "$hello" --hex "$export_req" >"$WORK/node1.out" 2>&1 &
	PIDS+=($!)
	wait_for "$WORK/node1.out" '"type":"welcome"'
	session=$(sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p' "$WORK/node1.out")
	[ ${#session} -eq 32 ]
	run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node2.pem" --key "$PKI/node2.key" \
		--ca "$PKI/ca.pem" --text "{\"type\":\"hello\",\"version\":1,\"role\":\"resume\",\"session\":\"$session\",\"received\":0}"
	echo "$output"
	# told what it would be told of a session that does not exist
	[[ "$output" == *'"code":"no-session"'* ]]
	[[ "$output" == *"no session ${session:0:8}... for node node-2 here"* ]]
	grep -qF "warning: node node-2 named session ${session:0:8}... of node node-1: refused, a session is resumed only by its own identity" "$WORK/proxy.log"
	# node-1's tunnel goes on
	absent "node node-1 (disconnected|resumed)|replaced" "$WORK/proxy.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^node-1-[0-9a-f]{16}\ 0525:a4a5\ speed=3\ interfaces=1$ ]]
}

@test "200 connect/disconnect cycles and 50 forced reconnects leave fds and RSS of both programs flat" {
	# freed memory must not linger in ASan's quarantine for this measure
	export ASAN_OPTIONS="quarantine_size_mb=0:thread_local_quarantine_size_kb=0:${ASAN_OPTIONS:-}"
	head -c 1048576 /dev/urandom >"$WORK/disk.img"
	start_proxy "$WORK/proxy.log" server "${FAST[@]}"
	proxy=${PIDS[0]}
	relay_to "$WSS_PORT"
	# warm-up cycles, then the baseline
	cycle() {
		URL=$RELAY_URL start_node "$WORK/cycle.log" node "storage:$WORK/disk.img"
		kill -TERM "$NODE_PID"
		wait "$NODE_PID"
	}
	# ASan's allocator and stack depot settle over the first few dozen
	for i in $(seq 50); do cycle; done
	wait_count "$WORK/proxy.log" "node node-1 disconnected" 50
	pf0=$(fds "$proxy")
	pr0=$(rss_kib "$proxy")
	for i in $(seq 200); do cycle; done
	wait_count "$WORK/proxy.log" "node node-1 disconnected" 250
	pf1=$(fds "$proxy")
	pr1=$(rss_kib "$proxy")
	echo "proxy after 200 cycles: fds $pf0 -> $pf1, RSS $pr0 -> $pr1 KiB" >&3

	# one node, its link cut 50 times; each cut is resumed
	URL=$RELAY_URL start_node "$WORK/node.log" node "storage:$WORK/disk.img" "${FAST[@]}" --backoff-max 1
	node=$NODE_PID
	cut() {
		kill -HUP "$RELAY_PID"
		sleep 0.1
		kill -USR2 "$RELAY_PID"
		wait_count "$WORK/node.log" "resumed session with the proxy" "$1"
		"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
		cmp "$WORK/disk.img" "$WORK/read.img"
	}
	for i in $(seq 15); do cut "$i"; done
	nf0=$(fds "$node")
	nr0=$(rss_kib "$node")
	pf2=$(fds "$proxy")
	pr2=$(rss_kib "$proxy")
	for i in $(seq 16 65); do cut "$i"; done
	nf1=$(fds "$node")
	nr1=$(rss_kib "$node")
	pf3=$(fds "$proxy")
	pr3=$(rss_kib "$proxy")
	echo "node after 50 forced reconnects: fds $nf0 -> $nf1, RSS $nr0 -> $nr1 KiB" >&3
	echo "proxy over them: fds $pf2 -> $pf3, RSS $pr2 -> $pr3 KiB" >&3
	[ "$pf1" -eq "$pf0" ]
	[ "$nf1" -eq "$nf0" ]
	[ "$pf3" -eq "$pf2" ]
	# flat: under 2 MiB of growth over the whole run (allocator noise, no per-cycle leak)
	[ $((pr1 - pr0)) -lt 2048 ]
	[ $((nr1 - nr0)) -lt 2048 ]
	[ $((pr3 - pr2)) -lt 2048 ]
	[ "$(grep -c 'exported 0525:a4a5' "$WORK/proxy.log")" -eq 251 ]
}

@test "--resume-time 0: no session, so no acknowledgements; 16 MiB each way go through and the node lives" {
	start_proxy "$WORK/proxy.log" server --resume-time 0
	start_node "$WORK/node.log" node sourcesink
	grep -q "(the proxy offers no session resumption)" "$WORK/node.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 bulk "$BUSID" in 16777216
	[ "$status" -eq 0 ]
	[[ "$output" == "bulk_in bytes=16777216 urbs=256 "* ]]
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 bulk "$BUSID" out 16777216
	[ "$status" -eq 0 ]
	[[ "$output" == "bulk_out bytes=16777216 urbs=256 "* ]]
	kill -0 "$NODE_PID"
	absent "acknowledged|outside what this node sent" "$WORK/node.log"
	absent "closing its tunnel" "$WORK/proxy.log"
}
