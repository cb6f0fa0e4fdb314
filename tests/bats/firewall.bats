#!/usr/bin/env bats
# The URB firewall: every PDU is checked by the side that receives it, in
# both directions.  A fake node (tests/wspeer) sends crafted USB/IP to the
# real proxy, answering commands a real importer sent through
# --usbip-listen; a fake proxy (tests/fakeproxy) sends crafted commands to
# a real `usbws connect --virtual`.  Each violation must close that one
# tunnel with a log line naming the rule, the bad bytes must go no
# further, and (on the proxy) another tunnel must not notice.

load helpers

# The fake node's export: a hello, then OP_REQ_EXPORT for a high-speed
# 0525:a4a5 that it calls 1-1.
HELLO='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[{"class":"08","subclass":"06","protocol":"50"}]}}'

# hexstr STRING SIZE: STRING NUL-padded to SIZE bytes, as hex
hexstr() {
	printf '%s%0*d' "$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')" $((($2 - ${#1}) * 2)) 0
}

# usb_device: struct usbip_usb_device (312 bytes): path, busid, busnum 1,
# devnum 2, speed high, 0525:a4a5, bcdDevice 0100, class 0/0/0, config 1
# of 1, one interface
usb_device() {
	printf '%s%s %08x %08x %08x 0525 a4a5 0100 00 00 00 01 01 01' \
		"$(hexstr /sys/devices/usbws-firewall/1-1 256)" "$(hexstr 1-1 32)" 1 2 3
}

# op_export VERSION: OP_REQ_EXPORT (320 bytes) with op_common's version,
# given as 4 hex digits
op_export() { printf '%s 8006 00000000 %s' "$1" "$(usb_device)"; }

# ret_submit SEQNUM ACTUAL NPACKETS: a RET_SUBMIT header, status 0
ret_submit() {
	printf '00000003 %08x 00000000 00000000 00000000  00000000 %08x 00000000 %08x 00000000 0000000000000000' \
		"$1" "$2" "$3"
}

# cmd_submit SEQNUM DIR EP LENGTH NPACKETS [SETUP]: a CMD_SUBMIT header
cmd_submit() {
	printf '00000001 %08x 00010001 %08x %08x  00000000 %08x 00000000 %08x 00000000 %s' \
		"$1" "$2" "$3" "$4" "$5" "${6:-0000000000000000}"
}

# zeros N: N zero bytes, as hex
zeros() { printf '%0*d' $(($1 * 2)) 0; }

# first_bytes N HEX: the first N bytes of HEX (spaces dropped)
first_bytes() { local h=${2// /}; printf '%s' "${h:0:$(($1 * 2))}"; }

# What usbip-testclient sends first after its import: GET_DESCRIPTOR(DEVICE),
# a CMD_SUBMIT with seqnum 1, IN, endpoint 0, 18 bytes.  The proxy sends
# the fake node OP_REP_EXPORT (8 bytes) and then that command (48).
FIRST_CMD_SEEN=56
# an 18-byte device descriptor: USB 2.0, 0525:a4a5, one configuration
DEVICE_DESC=12010002000000402505a5a4000101020001

setup() {
	usbws_setup
	pki
	WSPEER=$USBWS_BUILDDIR/tests/wspeer
	FAKEPROXY=$USBWS_BUILDDIR/tests/fakeproxy
}
teardown() { usbws_teardown; }

# --- the proxy, against a fake node -------------------------------------

# proxy_with_good_tunnel: the proxy, and a well-behaved node (node-2) that
# exports a disk as GOOD
proxy_with_good_tunnel() {
	random_image "$WORK/disk.img" 2
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/good.log" node2 "storage:$WORK/disk.img"
	GOOD=$BUSID
	GOOD_PID=$NODE_PID
}

# bad_node STEP...: the fake node (node-1) connects, says hello, exports
# its device, then runs wspeer's STEP..., in the background (output in
# $WORK/peer.out).  Sets BAD to the busid the proxy gave it.
bad_node() {
	local n
	n=$(grep -cE "node node-1 exported" "$WORK/proxy.log" || true)
	"$WSPEER" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" --timeout 15 \
		--text "$HELLO" --hex "$(op_export 0111)" "$@" >"$WORK/peer.out" 2>&1 &
	PEER_PID=$!
	PIDS+=($PEER_PID)
	wait_count "$WORK/proxy.log" "node node-1 exported 0525:a4a5 \(its 1-1\) as busid" $((n + 1))
	BAD=$(sed -n 's/.*node node-1 exported .* as busid \([^,]*\),.*/\1/p' "$WORK/proxy.log" | tail -1)
}

# import_bad: a real importer imports BAD and sends its first command,
# which the fake node answers; in the background (output in
# $WORK/importer.out)
import_bad() {
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 control-rtt "$BAD" 1 >"$WORK/importer.out" 2>&1 &
	IMPORTER_PID=$!
	PIDS+=($IMPORTER_PID)
}

# peer_done: waits for the fake node; PEER_STATUS, PEER_OUT, PEER_RX (the
# hex of every binary byte the proxy sent it).  Then gives the importer
# 5 s to be let go of; IMPORTER holds what it said.
peer_done() {
	local i
	PEER_STATUS=0
	wait "$PEER_PID" || PEER_STATUS=$?
	PEER_OUT=$(cat "$WORK/peer.out")
	PEER_RX=$(sed -n 's/^binary in ([0-9]* bytes): //p' "$WORK/peer.out")
	for i in $(seq 100); do
		kill -0 "$IMPORTER_PID" 2>/dev/null || break
		sleep 0.05
	done
	IMPORTER=$(cat "$WORK/importer.out")
	echo "fake node (exit $PEER_STATUS): $PEER_OUT"
	echo "importer: $IMPORTER"
}

# answered_importers_command: the fake node got OP_REP_EXPORT and then the
# importer's first command (CMD_SUBMIT seqnum 1), which it answered
answered_importers_command() {
	[ "${PEER_RX:0:16}" = 0111000600000000 ]
	[ "${PEER_RX:16:16}" = 0000000100000001 ]
}

# refused_by_proxy RULE: the proxy closed the fake node's tunnel and said
# so in its log and in the close, naming RULE; the importer of that busid
# was cut off without seeing the bad reply; the good tunnel still reads
# the whole disk intact.
refused_by_proxy() {
	local rule=$1
	wait_for "$WORK/proxy.log" "node node-1: closing its tunnel: USB/IP protocol violation: $(re "$rule")"
	[ "$PEER_STATUS" -eq 0 ]
	[[ "$PEER_OUT" == *"closed: USB/IP protocol violation: $rule"* ]]
	[[ "$PEER_OUT" == *"connection closed"* ]]
	wait_for "$WORK/proxy.log" "node node-1 disconnected, busid $BAD"
	good_tunnel_works
}

# good_tunnel_works: the other node's disk, read through the proxy, has
# the image's sha256, and that node is still running
good_tunnel_works() {
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$GOOD" "$WORK/read.img"
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	kill -0 "$GOOD_PID"
	absent "node node-2: closing" "$WORK/proxy.log"
}

@test "proxy: a fake node that answers correctly is relayed (the harness itself works)" {
	proxy_with_good_tunnel
	# a correct reply to GET_DESCRIPTOR(DEVICE); the importer then asks for
	# the configuration (seqnum 2), and the fake node hangs up
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 1 18 0) $DEVICE_DESC" \
		--wait $((FIRST_CMD_SEEN + 48)) --close done
	import_bad
	peer_done
	[ "$PEER_STATUS" -eq 0 ]
	answered_importers_command
	[ "${PEER_RX:112:16}" = 0000000100000002 ]
	[[ "$PEER_OUT" == *"closing: done"* ]]
	[[ "$PEER_OUT" == *"connection closed"* ]]
	# the importer took the reply: it sent its next command, no complaint
	[[ "$IMPORTER" != *"broke the protocol"* ]]
	good_tunnel_works
	absent "protocol violation" "$WORK/proxy.log"
}

@test "proxy: RET_SUBMIT with actual_length above what the command asked is refused" {
	proxy_with_good_tunnel
	# the importer asked for 18 bytes; 64 come back
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 1 64 0) $(zeros 64)"
	import_bad
	peer_done
	answered_importers_command
	refused_by_proxy "actual_length larger than the requested length"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
}

@test "proxy: a reply to a seqnum that is not outstanding is refused" {
	proxy_with_good_tunnel
	# seqnum 1 is outstanding; the reply is for 2
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 2 18 0) $DEVICE_DESC"
	import_bad
	peer_done
	answered_importers_command
	refused_by_proxy "reply to a seqnum that is not outstanding (unsolicited)"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
}

@test "proxy: a bogus ISO packet count is refused (above 1024, and differing from the command's)" {
	proxy_with_good_tunnel
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 1 0 1025)"
	import_bad
	peer_done
	answered_importers_command
	refused_by_proxy "bogus ISO packet count"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
	# a bulk/control command (0 packets) answered as ISO with 5
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 1 0 5) $(zeros 80)"
	import_bad
	peer_done
	answered_importers_command
	wait_count "$WORK/proxy.log" "node node-1: closing its tunnel: USB/IP protocol violation: bogus ISO packet count" 2
	refused_by_proxy "bogus ISO packet count"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
}

@test "proxy: a transfer above the 16 MiB limit is refused" {
	proxy_with_good_tunnel
	# actual_length 16 MiB + 1: over the limit before anything else is asked
	bad_node --wait $FIRST_CMD_SEEN --hex "$(ret_submit 1 $((16 * 1024 * 1024 + 1)) 0)"
	import_bad
	peer_done
	answered_importers_command
	refused_by_proxy "transfer length above the configured maximum"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
}

@test "proxy: a stream that ends inside a URB header is refused as truncated" {
	proxy_with_good_tunnel
	# 20 of the reply header's 48 bytes, then a clean WebSocket close
	bad_node --wait $FIRST_CMD_SEEN --hex "$(first_bytes 20 "$(ret_submit 1 18 0)")" --close "bye"
	import_bad
	peer_done
	answered_importers_command
	[ "$PEER_STATUS" -eq 0 ]
	[[ "$PEER_OUT" == *"closing: bye"* ]]
	[[ "$PEER_OUT" == *"connection closed"* ]]
	wait_for "$WORK/proxy.log" "node node-1: .*USB/IP protocol violation: the stream ended inside a message \(truncated\)"
	wait_for "$WORK/proxy.log" "node node-1 disconnected, busid $BAD"
	[[ "$IMPORTER" == *"the server closed the connection"* ]]
	good_tunnel_works
}

@test "proxy: an OP message with a USB/IP version other than 1.1.1 is refused" {
	proxy_with_good_tunnel
	run "$WSPEER" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--text "$HELLO" --hex "$(op_export 0110)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"closed: USB/IP protocol violation: USB/IP version is not 1.1.1 (0x0111)"* ]]
	[[ "$output" == *"connection closed"* ]]
	# no OP_REP_EXPORT: nothing binary came back
	[[ "$output" == *"binary in (0 bytes): "* ]]
	wait_for "$WORK/proxy.log" "node node-1: closing its tunnel: USB/IP protocol violation: USB/IP version is not 1\.1\.1 \(0x0111\)"
	absent "node node-1 exported" "$WORK/proxy.log"
	good_tunnel_works
}

@test "proxy: a node's close status and reason are logged, control characters masked" {
	proxy_with_good_tunnel
	bad_node --fail $'USB/IP protocol violation: test\nusbws-proxy: error: forged line'
	wait "$PEER_PID"
	cat "$WORK/peer.out"
	wait_for "$WORK/proxy.log" "node node-1 closed its connection with status 1002: USB/IP protocol violation: test\?usbws-proxy: error: forged line$"
	absent "^usbws-proxy: error: forged line" "$WORK/proxy.log"
	# a node that closed on purpose does not leave a session waiting for it
	wait_for "$WORK/proxy.log" "node node-1 disconnected, busid $BAD"
	absent "node node-1: connection lost" "$WORK/proxy.log"
	good_tunnel_works
}

# --- the node, against a fake proxy -------------------------------------

# fake_proxy STEP...: the fake proxy in the background, which answers the
# export and then runs fakeproxy's STEP...; sets FP_URL
fake_proxy() {
	"$FAKEPROXY" --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --timeout 15 "$@" \
		>"$WORK/fp.out" 2>&1 &
	FP_PID=$!
	PIDS+=($FP_PID)
	wait_for "$WORK/fp.out" "^listening on port [0-9]+$"
	FP_URL=wss://localhost:$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$WORK/fp.out")/usbip
}

# node_against_fake_proxy [SPEC]: usbws connect --virtual SPEC (sourcesink)
# to the fake proxy, until the fake proxy has seen the connection close.
# Sets FP_STATUS, FP_OUT, FP_RX (hex of every binary byte the node sent),
# FP_RX_BYTES, and leaves the node's log in $WORK/node.log.
node_against_fake_proxy() {
	local i
	"$USBWS" connect --url "$FP_URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual "${1:-sourcesink}" 2>"$WORK/node.log" &
	NODE_PID=$!
	PIDS+=($NODE_PID)
	FP_STATUS=0
	wait "$FP_PID" || FP_STATUS=$?
	FP_OUT=$(cat "$WORK/fp.out")
	FP_RX=$(sed -n 's/^binary in ([0-9]* bytes): //p' "$WORK/fp.out")
	FP_RX_BYTES=$(sed -n 's/^binary in (\([0-9]*\) bytes): .*/\1/p' "$WORK/fp.out")
	# the node says why before it lets go of the socket; give it time to exit
	for i in $(seq 50); do
		kill -0 "$NODE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "fake proxy (exit $FP_STATUS): $FP_OUT"
	echo "node: $(cat "$WORK/node.log")"
}

# exported_then_closed: the export went through (the crafted bytes came
# after it), and the fake proxy saw the connection close
exported_then_closed() {
	[ "$FP_STATUS" -eq 0 ]
	[[ "$FP_OUT" == *'text: {"type":"hello","version":1,"role":"export"'* ]]
	[ "${FP_RX:0:8}" = 01118006 ]
	grep -q "exported 1-1 as busid 1-1 on the proxy, which knows this node as node-1" "$WORK/node.log"
	[[ "$FP_OUT" == *"connection closed"* ]]
}

# refused_by_node RULE [BYTES]: the node logged RULE as the proxy's
# violation and closed with it (status 1002); its device answered nothing
# after the export request (320 bytes) or BYTES
refused_by_node() {
	grep -qF "the proxy broke the USB/IP protocol: $1" "$WORK/node.log"
	[ "$FP_RX_BYTES" -eq "${2:-320}" ]
	# and told the proxy which rule, in its close frame
	[[ "$FP_OUT" == *"closed by the node: 1002 USB/IP protocol violation: $1"* ]]
}

# GET_DESCRIPTOR(DEVICE) for 18 bytes, as a host sends it first
GET_DEVICE_DESC=$(cmd_submit 1 1 0 18 0 8006000100001200)

@test "node: a fake proxy's well-formed command is answered (the harness itself works)" {
	fake_proxy --hex "$GET_DEVICE_DESC" --wait $((320 + 48 + 18)) --close done
	node_against_fake_proxy
	exported_then_closed
	# RET_SUBMIT seqnum 1, status 0, 18 bytes: sourcesink's descriptor
	[ "${FP_RX:640:8}" = 00000003 ]
	[ "${FP_RX:648:8}" = 00000001 ]
	[ "${FP_RX:680:16}" = 0000000000000012 ]
	[ "${FP_RX:736:8}" = 12010002 ]
	[[ "$FP_OUT" == *"closing: done"* ]]
	absent "broke the USB/IP protocol" "$WORK/node.log"
}

@test "node: a bogus ISO packet count from the proxy is refused" {
	fake_proxy --hex "$(cmd_submit 1 1 1 0 1025)"
	node_against_fake_proxy
	exported_then_closed
	refused_by_node "bogus ISO packet count"
}

@test "node: a transfer above its 1 MiB limit is refused (1 MiB itself passes)" {
	# SET_CONFIGURATION(1) first: an unconfigured device has no bulk endpoint
	fake_proxy --hex "$(cmd_submit 1 0 0 0 0 0009010000000000)" --wait $((320 + 48)) \
		--hex "$(cmd_submit 2 1 1 1048576 0)" --wait $((320 + 48 + 48 + 1048576)) \
		--hex "$(cmd_submit 3 1 1 1048577 0)"
	node_against_fake_proxy
	exported_then_closed
	refused_by_node "transfer length above the configured maximum" $((320 + 48 + 48 + 1048576))
	# both replies, status 0: the configuration, then all of the 1 MiB
	[ "${FP_RX:640:16}" = 0000000300000001 ]
	[ "${FP_RX:680:16}" = 0000000000000000 ]
	[ "${FP_RX:736:16}" = 0000000300000002 ]
	[ "${FP_RX:776:16}" = 0000000000100000 ]
}

@test "node: a stream from the proxy that ends inside a URB header is refused as truncated" {
	fake_proxy --hex "$(first_bytes 20 "$GET_DEVICE_DESC")" --close bye
	node_against_fake_proxy
	exported_then_closed
	[[ "$FP_OUT" == *"closing: bye"* ]]
	# the rule named, in the node's words or the proxy's
	grep -qE "(the proxy broke the USB/IP protocol|USB/IP protocol violation): the stream ended inside a message \(truncated\)" \
		"$WORK/node.log"
	[ "$FP_RX_BYTES" -eq 320 ]
}

@test "node: an OP_REP_EXPORT with a USB/IP version other than 1.1.1 is refused" {
	fake_proxy --rep "0110 0006 00000000" --hex "$GET_DEVICE_DESC"
	node_against_fake_proxy
	[ "$FP_STATUS" -eq 0 ]
	[[ "$FP_OUT" == *"connection closed"* ]]
	# and the command after it never reached the device
	refused_by_node "USB/IP version is not 1.1.1 (0x0111)"
}

@test "node: replies cannot travel toward the device (a RET_SUBMIT from the proxy is refused)" {
	# cases 1 and 2 are rules for replies; toward the node a reply of any
	# length or seqnum is already in the wrong direction
	fake_proxy --hex "$(ret_submit 1 64 0) $(zeros 64)"
	node_against_fake_proxy
	exported_then_closed
	refused_by_node "USB/IP message sent in the wrong direction"
}

@test "node: a listing from the proxy with control characters in its names prints them as '?' in the table; --json carries them escaped" {
	# a node name with a clear-screen and a newline, a busid with C1 CSI, a
	# state with a carriage return and a bidi override
	listing='{"type":"nodes","nodes":[{"node":"gw\u001b[2J\nevil","devices":[{"busid":"1-1\u009b31m",'
	listing+='"vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[],"state":"exported\r\u202eX"}]}]}'
	fake_proxy --as lister --text "$listing"
	"$USBWS" list -r "$FP_URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		>"$WORK/table.out" 2>"$WORK/list.log"
	printf 'NODE         BUSID    VID:PID    SPEED  CLASS  STATE\n' >"$WORK/want"
	printf 'gw?[2J?evil  1-1?31m  0525:a4a5  high   00     exported??X\n' >>"$WORK/want"
	diff -u "$WORK/want" "$WORK/table.out"
	fake_proxy --as lister --text "$listing"
	"$USBWS" list -r "$FP_URL" --json --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		>"$WORK/json.out" 2>"$WORK/list.log"
	# the JSON as the proxy sent it, but its type; the C0 controls as JSON escapes
	[ "$(jq -c . "$WORK/json.out")" = "$(jq -c 'del(.type)' <<<"$listing")" ]
	[ "$(LC_ALL=C grep -c $'[\x01-\x09\x0b-\x1f]' "$WORK/json.out")" -eq 0 ]
	[ "$(jq -r '.nodes[0].node' "$WORK/json.out")" = $'gw\e[2J\nevil' ]
	# nothing exported there: a sentence, not an empty table
	fake_proxy --as lister --text '{"type":"nodes","nodes":[]}'
	run "$USBWS" list -r "$FP_URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "the proxy has no device of this node" ]
}
