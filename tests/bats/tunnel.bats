#!/usr/bin/env bats
# The WSS tunnel end to end: usbws connect -> usbws-proxy (mutual TLS) ->
# USB/IP re-export -> a USB/IP client.  Real processes on loopback, PKI
# made at test time.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

@test "a whole disk read through the tunnel has the image's sha256; writes land in the file" {
	random_image "$WORK/disk.img" 16
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	head -c 262144 /dev/urandom >"$WORK/patch.bin"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 write-disk "$BUSID" "$WORK/patch.bin" 2048
	[ "$status" -eq 0 ]
	dd if="$WORK/disk.img" of="$WORK/landed.bin" bs=512 skip=2048 count=512 status=none
	cmp "$WORK/patch.bin" "$WORK/landed.bin"
	grep -q "node node-1 exported 0525:a4a5 (its 1-1) as busid $BUSID" "$WORK/proxy.log"
}

@test "the proxy names the node by its certificate and lists it as JSON" {
	head -c 1048576 /dev/zero >"$WORK/disk.img"
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	start_node "$WORK/node2.log" node2 sourcesink
	grep -q "which knows this node as node-1" "$WORK/node.log"
	run "$USBWS" list --remote "$URL" --json --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	echo "$output" | grep -v '^usbws:' >"$WORK/list.json"
	# each node sees itself only (tenants.bats)
	[ "$(jq -r '.nodes | length' "$WORK/list.json")" = 1 ]
	[ "$(jq -r '.nodes[] | select(.node == "node-1") | .devices[0].vendor' "$WORK/list.json")" = 0525 ]
	[ "$(jq -r '.nodes[] | select(.node == "node-1") | .devices[0].product' "$WORK/list.json")" = a4a5 ]
	[ "$(jq -r '.nodes[] | select(.node == "node-1") | .devices[0].interfaces[0].class' "$WORK/list.json")" = 08 ]
	[ "$(jq -r '.nodes[].devices[].state' "$WORK/list.json" | sort -u)" = exported ]
	# usbip's -r
	run "$USBWS" list -r "$URL" --json --cert "$PKI/node2.pem" --key "$PKI/node2.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	echo "$output" | grep -v '^usbws:' >"$WORK/list2.json"
	[ "$(jq -r '.nodes[] | select(.node == "node-2") | .devices[0].speed' "$WORK/list2.json")" = high ]
	[ "$(jq -r '.nodes | length' "$WORK/list2.json")" = 1 ]
}

@test "Debian's usbip lists tunnelled devices from the proxy" {
	head -c 1048576 /dev/zero >"$WORK/disk.img"
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"$BUSID: Netchip Technology, Inc. : Linux-USB File-backed Storage Gadget (0525:a4a5)"* ]]
	[[ "$output" == *": /usbws/node-1/1-1"* ]]
	[[ "$output" == *"0 - Mass Storage / SCSI / Bulk-Only (08/06/50)"* ]]
}

@test "20 devices tunnelled at once, each read back intact" {
	start_proxy "$WORK/proxy.log"
	declare -A bus
	for i in $(seq 20); do
		random_image "$WORK/disk$i.img" 1
		# one node, 20 devices: each its own busid, as one identity has
		# one connection per busid
		start_node "$WORK/node$i.log" node "storage:$WORK/disk$i.img" --busid "1-$i"
		bus[$i]=$BUSID
	done
	for i in $(seq 20); do
		"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "${bus[$i]}" "$WORK/read$i.img" 2>/dev/null &
		PIDS+=($!)
	done
	wait "${PIDS[@]:21}"
	for i in $(seq 20); do
		cmp "$WORK/disk$i.img" "$WORK/read$i.img"
	done
}

@test "a node certificate from a foreign CA is refused" {
	start_proxy "$WORK/proxy.log"
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/foreign-node.pem" --key "$PKI/foreign-node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --connect-timeout 5
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	# the alert, or (when the proxy's reset came first) the next best thing
	[[ "$output" == *"the proxy at $URL refused this node's certificate: tlsv1 alert unknown ca"* ||
	   "$output" == *"the proxy at $URL closed the connection right after the TLS handshake"* ]]
	# a refused certificate is not retried
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
	[ "$(grep -c 'attempt' <<<"$output")" -eq 0 ]
	grep -q "client certificate rejected: unable to get local issuer certificate (subject CN=intruder, serial [0-9A-F]*);" "$WORK/proxy.log"
	absent "node intruder connected" "$WORK/proxy.log"
}

@test "an expired node certificate is refused" {
	start_proxy "$WORK/proxy.log"
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/expired.pem" --key "$PKI/expired.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --connect-timeout 5
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy at $URL refused this node's certificate: sslv3 alert certificate expired"* ||
	   "$output" == *"the proxy at $URL closed the connection right after the TLS handshake"* ]]
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
	grep -q "client certificate rejected: certificate has expired (subject CN=node-old, serial 1000);" "$WORK/proxy.log"
	absent "node node-old connected" "$WORK/proxy.log"
}

@test "a client without a certificate is refused" {
	start_proxy "$WORK/proxy.log"
	run timeout 10 openssl s_client -connect "127.0.0.1:$WSS_PORT" -CAfile "$PKI/ca.pem" </dev/null
	wait_for "$WORK/proxy.log" "TLS handshake with 127\.0\.0\.1:[0-9]+ refused: certificate required \(the node sent no client certificate\)"
	absent "connected" "$WORK/proxy.log"
}

@test "a proxy certificate for another name is refused by the node" {
	start_proxy "$WORK/proxy.log" wrongname
	run timeout 10 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy's certificate was rejected: hostname mismatch (subject /CN=wrong.example); check --ca and the host name in --url"* ]]
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
}

@test "a proxy certificate not signed by --ca is refused by the node" {
	start_proxy "$WORK/proxy.log"
	run timeout 10 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/foreign-ca.pem" --virtual sourcesink
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy's certificate was rejected: self-signed certificate in certificate chain"* ]]
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
}

@test "malformed JSON and malformed PDUs drop only that node, with the reason; others go on" {
	random_image "$WORK/disk.img" 8
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node2 "storage:$WORK/disk.img"
	good=$BUSID
	peer=("$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem")
	run "${peer[@]}" --text '{"type":"hello","version":1,'
	[ "$status" -eq 0 ]
	[[ "$output" == *'text: {"type":"error","code":"bad-json","message":"malformed control message: malformed JSON at line 1 column'* ]]
	[[ "$output" == *"closed: malformed control message: malformed JSON"* ]]
	run "${peer[@]}" --text '{"type":"hello","version":7,"role":"export"}'
	[[ "$output" == *"closed: malformed control message: unsupported protocol version (this side speaks 1)"* ]]
	run "${peer[@]}" --hex 011180060000000000
	[[ "$output" == *"closed: USB/IP data before the hello message"* ]]
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[]}}'
	run "${peer[@]}" --text "$hello" --hex 01108006000000000000
	[[ "$output" == *"closed: USB/IP protocol violation: USB/IP version is not 1.1.1 (0x0111)"* ]]
	# an unsolicited RET_SUBMIT right after the export header (of a
	# device all zeros but its busid, 1-1)
	dev=$(printf '%0512d' 0)312d31$(printf '%0106d' 0)
	run "${peer[@]}" --text "$hello" --hex "0111800600000000${dev}00000003000000070000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	[[ "$output" == *"closed: USB/IP protocol violation: reply to a seqnum that is not outstanding (unsolicited)"* ]]
	grep -q "node node-1: closing its tunnel: USB/IP protocol violation: reply to a seqnum that is not outstanding" "$WORK/proxy.log"
	# the good tunnel never noticed
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$good" "$WORK/read.img"
	[ "$status" -eq 0 ]
	cmp "$WORK/disk.img" "$WORK/read.img"
	kill -0 "$NODE_PID"
}

@test "an export whose busid holds control characters is refused, and none of them reaches a log or listing" {
	start_proxy "$WORK/proxy.log"
	peer=("$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem")
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[]}}'
	# path empty, busid ESC "[31m1-1" newline, the rest zero
	path=$(printf '%0512d' 0)
	busid=1b5b33316d312d310a$(printf '%046d' 0)
	run "${peer[@]}" --text "$hello" --hex "0111800600000000${path}${busid}$(printf '%048d' 0)"
	[[ "$output" == *"closed: USB/IP protocol violation: path or busid holds a control character"* ]]
	grep -q "node node-1: closing its tunnel: USB/IP protocol violation: path or busid holds a control character" "$WORK/proxy.log"
	absent $'\x1b' "$WORK/proxy.log"
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[[ "$output" != *$'\x1b'* ]]
}

@test "SIGTERM on the node unexports its device cleanly" {
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node sourcesink
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	# each event once, on both sides
	[ "$(grep -c "the proxy confirmed the unexport" "$WORK/node.log")" -eq 1 ]
	[ "$(grep -c "node node-1 unexported busid $BUSID" "$WORK/proxy.log")" -eq 1 ]
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[[ "$output" != *"$BUSID"* ]]
}

@test "the tunnel goes through an HTTP CONNECT proxy (tinyproxy, with a password)" {
	head -c 1048576 /dev/urandom >"$WORK/disk.img"
	start_proxy "$WORK/proxy.log"
	tport=$(( (RANDOM % 20000) + 30000 ))
	cat >"$WORK/tinyproxy.conf" <<-CONF
		Port $tport
		Listen 127.0.0.1
		Timeout 60
		MaxClients 20
		Allow 127.0.0.1
		BasicAuth tunnel s3cret
		ConnectPort $WSS_PORT
		LogLevel Connect
		LogFile "$WORK/tinyproxy.log"
		PidFile "$WORK/tinyproxy.pid"
	CONF
	tinyproxy -d -c "$WORK/tinyproxy.conf" 2>/dev/null &
	PIDS+=($!)
	wait_for "$WORK/tinyproxy.log" "Accepting connections|listening on" || true
	sleep 0.3
	start_node "$WORK/node.log" node "storage:$WORK/disk.img" --proxy "http://tunnel:s3cret@127.0.0.1:$tport"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$status" -eq 0 ]
	cmp "$WORK/disk.img" "$WORK/read.img"
	grep -q "CONNECT" "$WORK/tinyproxy.log"
	grep -q "localhost:$WSS_PORT" "$WORK/tinyproxy.log"
}


@test "a reader that never reads does not make the proxy or the node grow" {
	# freed memory must not linger in ASan's quarantine for this measure
	export ASAN_OPTIONS="quarantine_size_mb=1:${ASAN_OPTIONS:-}"
	start_proxy "$WORK/proxy.log"
	proxy_pid=${PIDS[0]}
	start_node "$WORK/node.log" node sourcesink
	# warm both up with real traffic first, then take the baseline
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 bulk "$BUSID" in 8388608 >/dev/null
	p0=$(rss_kib "$proxy_pid")
	n0=$(rss_kib "$NODE_PID")
	# 1000 x 64 KiB = 62.5 MiB of replies asked for (1024 may be in flight), none read
	"$CLIENT" --port "$USBIP_PORT" --urb 65536 127.0.0.1 flood "$BUSID" 1000 4 >"$WORK/flood.out" &
	PIDS+=($!)
	sleep 3
	p1=$(rss_kib "$proxy_pid")
	n1=$(rss_kib "$NODE_PID")
	echo "proxy RSS $p0 -> $p1 KiB, node RSS $n0 -> $n1 KiB" >&3
	[ $((p1 - p0)) -lt 8192 ]
	[ $((n1 - n0)) -lt 8192 ]
	# the pause reached the node: it stopped taking commands from the proxy
	grep -q "flood queued=1000" "$WORK/flood.out"
	kill -0 "$proxy_pid" "$NODE_PID"
}

@test "connect/disconnect cycles from both sides leave no fds behind, and the proxy exits clean" {
	head -c 1048576 /dev/urandom >"$WORK/disk.img"
	start_proxy "$WORK/proxy.log"
	proxy_pid=${PIDS[0]}
	start_node "$WORK/node.log" node sourcesink
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	# measure only once the proxy itself has closed that connection
	wait_for "$WORK/proxy.log" "node node-1 disconnected"
	fds0=$(ls "/proc/$proxy_pid/fd" | wc -l)
	for i in $(seq 10); do
		start_node "$WORK/node-$i.log" node "storage:$WORK/disk.img"
		"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
		cmp "$WORK/disk.img" "$WORK/read.img"
		# an importer that vanishes mid-transfer
		timeout 0.2 "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 bulk "$BUSID" in 1073741824 >/dev/null 2>&1 || true
		kill -TERM "$NODE_PID"
		wait "$NODE_PID"
	done
	for i in $(seq 100); do
		[ "$(grep -c "node node-1 disconnected" "$WORK/proxy.log")" -eq 11 ] && break
		sleep 0.05
	done
	fds1=$(ls "/proc/$proxy_pid/fd" | wc -l)
	echo "proxy fds: $fds0 before, $fds1 after 10 cycles" >&3
	[ "$fds1" -eq "$fds0" ]
	# a clean exit; under the sanitizer build this includes the leak check
	kill -TERM "$proxy_pid"
	wait "$proxy_pid"
	grep -q "stopping" "$WORK/proxy.log"
}

@test "a server that completes TLS but never answers the upgrade is given up on after --retries" {
	# stdin held open by a FIFO: at EOF s_server would hang up
	mkfifo "$WORK/hold"
	openssl s_server -quiet -accept 0 -cert "$PKI/server.pem" -key "$PKI/server.key" \
		<"$WORK/hold" >"$WORK/s_server.out" 2>&1 &
	PIDS+=($!)
	exec 8>"$WORK/hold"
	# s_server prints nothing with -quiet; find its port from /proc
	for i in $(seq 50); do
		port=$(ss -ltnpH 2>/dev/null | grep "pid=${PIDS[-1]}," | sed -n 's/.*:\([0-9]*\) .*/\1/p' | head -1)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ]
	run timeout 20 "$USBWS" connect --url "wss://localhost:$port/usbip" --cert "$PKI/node.pem" \
		--key "$PKI/node.key" --ca "$PKI/ca.pem" --virtual sourcesink --connect-timeout 2 --retries 2
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no WebSocket handshake from wss://localhost:$port/usbip within 2 s"* ]]
	[ "$(grep -c 'no WebSocket handshake' <<<"$output")" -eq 2 ]
	[[ "$output" == *"attempt 1 failed; next in "* ]]
	[[ "$output" == *"giving up after 2 attempts (--retries)"* ]]
	exec 8>&-
}

@test "an importer that breaks USB/IP is dropped with the rule named; other tunnels go on" {
	random_image "$WORK/disk.img" 4
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node sourcesink
	bad=$BUSID
	start_node "$WORK/node2.log" node2 "storage:$WORK/disk.img"
	good=$BUSID
	exec 7<>"/dev/tcp/127.0.0.1/$USBIP_PORT"
	printf '\x01\x11\x80\x03\x00\x00\x00\x00%s' "$bad" >&7
	head -c $((32 - ${#bad})) /dev/zero >&7
	head -c 320 <&7 >/dev/null
	# a CMD_SUBMIT with endpoint 16
	printf '\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10' >&7
	head -c 28 /dev/zero >&7
	run timeout 5 cat <&7
	exec 7>&-
	wait_for "$WORK/proxy.log" "USB/IP importer broke the protocol: endpoint number above 15; dropping it"
	wait_for "$WORK/proxy.log" "node node-1: its importer broke the USB/IP protocol; closing the tunnel"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$good" "$WORK/read.img"
	[ "$status" -eq 0 ]
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "TLS below 1.2 is refused" {
	start_proxy "$WORK/proxy.log"
	run timeout 10 openssl s_client -connect "127.0.0.1:$WSS_PORT" -tls1_1 -cert "$PKI/node.pem" \
		-key "$PKI/node.key" -CAfile "$PKI/ca.pem" </dev/null
	[[ "$output" == *"alert protocol version"* ]]
	wait_for "$WORK/proxy.log" "TLS handshake with 127\.0\.0\.1:[0-9]+ refused: protocol version"
}

@test "an upgrade to another path or without the usbws.v1 subprotocol is refused" {
	start_proxy "$WORK/proxy.log"
	peer=("$USBWS_BUILDDIR/tests/wspeer" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem")
	run "${peer[@]}" --url "wss://localhost:$WSS_PORT/other"
	[ "$status" -eq 1 ]
	wait_for "$WORK/proxy.log" "refused a WebSocket upgrade from 127\.0\.0\.1:[0-9]+ to '/other' with subprotocol 'usbws.v1' \(want /usbip, usbws.v1\)"
	run "${peer[@]}" --url "wss://localhost:$WSS_PORT/usbip" --protocol chat
	[ "$status" -eq 1 ]
	absent "node node-1 connected" "$WORK/proxy.log"
}
