#!/usr/bin/env bats
# The fleet (doc/fleet.md): stable device addresses, the policy file, the
# operator role, and the proxy host's own view through proxy.sock.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# addr_of LOG: the address the proxy gave the node's device, from its log
addr_of() { sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$1" | tail -1; }

@test "stable addresses: after a proxy restart, nodes back in the reverse order, each address reads the same disk" {
	random_image "$WORK/a.img" 2
	random_image "$WORK/b.img" 2
	start_proxy "$WORK/proxy.log"
	port=$WSS_PORT
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a_pid=$NODE_PID
	a=$BUSID
	start_node "$WORK/b.log" node2 "storage:$WORK/b.img"
	b_pid=$NODE_PID
	b=$BUSID
	[[ "$a" =~ ^node-1-[0-9a-f]{16}$ ]]
	[[ "$b" =~ ^node-2-[0-9a-f]{16}$ ]]
	# the virtual disk has a serial (stable per image): the address follows it
	grep -qE "node node-1 exported 0525:a4a5 \(its 1-1\) as busid $a, by its serial$" "$WORK/proxy.log"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a1.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$b" "$WORK/b1.img"
	# the listing carries the address
	run "$USBWS" list --remote "$URL" --json --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	[ "$(grep -v '^usbws:' <<<"$output" | jq -r '.nodes[0].devices[0].busid')" = "$a" ]

	# the proxy restarts; node-2 comes back first this time
	kill -TERM "$a_pid" "$b_pid" "${PIDS[0]}"
	wait "$a_pid" "$b_pid" "${PIDS[0]}" || true
	start_proxy "$WORK/proxy2.log" server --listen "127.0.0.1:$port"
	start_node "$WORK/b2.log" node2 "storage:$WORK/b.img"
	[ "$BUSID" = "$b" ]
	start_node "$WORK/a2.log" node "storage:$WORK/a.img"
	[ "$BUSID" = "$a" ]
	[ "$(grep -n 'exported 0525:a4a5' "$WORK/proxy2.log" | head -1 | grep -c 'node node-2')" -eq 1 ]
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a2.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$b" "$WORK/b2.img"
	[ "$(sha256sum <"$WORK/a2.img")" = "$(sha256sum <"$WORK/a.img")" ]
	[ "$(sha256sum <"$WORK/b2.img")" = "$(sha256sum <"$WORK/b.img")" ]
	[ "$(sha256sum <"$WORK/a1.img")" = "$(sha256sum <"$WORK/a.img")" ]
	[ "$(sha256sum <"$WORK/b1.img")" = "$(sha256sum <"$WORK/b.img")" ]
	# and stock usbip sees the same addresses
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"$a: "*"(0525:a4a5)"* ]]
	[[ "$output" == *"$b: "*"(0525:a4a5)"* ]]
}

@test "a device without a serial is addressed by its port, the same on every export" {
	start_proxy "$WORK/proxy.log"
	# source/sink has no serial string: the address is vendor:product and the node's busid
	start_node "$WORK/s.log" node sourcesink
	s=$BUSID
	grep -qE "exported 0525:a4a0 \(its 1-1\) as busid $s, by its port$" "$WORK/proxy.log"
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	start_node "$WORK/s2.log" node sourcesink
	[ "$BUSID" = "$s" ]
}

# ask_proxy LINE: one raw request on proxy.sock, its answer printed
ask_proxy() {
	python3 - "$USBWS_RUN_DIR/proxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PY
}

@test "usbws nodes: the proxy host sees every node and device, its state and traffic, without a certificate" {
	random_image "$WORK/a.img" 2
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	start_node "$WORK/b.log" node2 sourcesink
	b=$BUSID
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/read.img"
	run "$USBWS" nodes --json
	[ "$status" -eq 0 ]
	echo "$output" >"$WORK/nodes.json"
	[ "$(jq -c '[.nodes[].node]' "$WORK/nodes.json")" = '["node-1","node-2"]' ]
	[ "$(jq -r '.nodes[0].devices[0].id' "$WORK/nodes.json")" = "$a" ]
	[ "$(jq -r '.nodes[1].devices[0].id' "$WORK/nodes.json")" = "$b" ]
	# without vhci_hcd every device is offered over USB/IP; the read's
	# importer has gone, so nobody holds it
	[ "$(jq -r '[.nodes[].devices[] | .state + "/" + .offer + "/" + .link] | unique | .[]' "$WORK/nodes.json")" = \
		"offered/export/connected" ]
	# the 2 MiB read went through: bytes, URBs and a round trip counted
	[ "$(jq '.nodes[0].devices[0].bytes_from_node' "$WORK/nodes.json")" -gt 2097152 ]
	[ "$(jq '.nodes[0].devices[0].urbs' "$WORK/nodes.json")" -gt 10 ]
	[ "$(jq '.nodes[0].devices[0].urbs_completed' "$WORK/nodes.json")" -eq \
		"$(jq '.nodes[0].devices[0].urbs' "$WORK/nodes.json")" ]
	[ "$(jq '.nodes[0].devices[0].rtt_p50_us' "$WORK/nodes.json")" -gt 0 ]
	[ "$(jq -r '.nodes[0].devices[0].addressed_by' "$WORK/nodes.json")" = serial ]
	[ "$(jq -r '.nodes[1].devices[0].addressed_by' "$WORK/nodes.json")" = port ]
	[[ "$(jq -r '.nodes[0].address' "$WORK/nodes.json")" == 127.0.0.1:* ]]
	# the table, and a filter
	run "$USBWS" nodes
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "node-1  connected since "*"  from 127.0.0.1:"* ]]
	[[ "${lines[1]}" == "  $a "*" offered     0525:a4a5 its 1-1 "*" URBs  p50 "*" us  Netchip "* ]]
	run "$USBWS" nodes --node 'node-2' --json
	[ "$(jq -c '[.nodes[].node]' <<<"$output")" = '["node-2"]' ]
	run "$USBWS" nodes --node 'gw-*'
	[ "$output" = "no node matching gw-* has a device on this proxy" ]
}

@test "the proxy host's commands refuse what they cannot do, each with its reason, and nothing else notices" {
	random_image "$WORK/a.img" 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	run "$USBWS" attach --device node-1-0000000000000000
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no device node-1-0000000000000000 on this proxy (usbws nodes lists them)" ]
	run "$USBWS" attach --device 'gw/17'
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 'gw/17' is not a device id (PREFIX-HASH, at most 31 bytes of [A-Za-z0-9._-]; usbws nodes lists them)" ]
	run "$USBWS" attach --device "$a"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: $a is offered over USB/IP only (policy line 0): usbip attach -r reaches it, not usbws attach" ]
	run "$USBWS" attach --device "$a" --vhci vhci_hcd.x
	[ "$status" -eq 1 ]
	[[ "$output" == "usbws: error: \"vhci\": "* ]]
	run "$USBWS" detach --device "$a"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: $a is not attached: it is offered" ]
	run "$USBWS" detach --port 1 --device "$a"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws detach: give either --port N or --device ID" ]
	run "$USBWS" attach
	[ "$status" -eq 2 ]
	[ "$output" = "usbws attach: --device ID is required" ]
	run "$USBWS" nodes --device "$a"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws nodes: takes no --device" ]
	run "$USBWS" nodes --node ''
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: \"node\" must be a pattern of 1..64 printable bytes (fnmatch, e.g. gw-*)" ]
	# raw requests: each refusal names what is wrong
	[[ "$(ask_proxy 'nodes please')" == '{"ok":false,"error":"the request is not JSON: '*' at column '*'"}' ]]
	[ "$(ask_proxy '{"cmd":"nodes","nodes":1}')" = '{"ok":false,"error":"nodes takes no field \"nodes\""}' ]
	[ "$(ask_proxy '{"cmd":"reboot"}')" = '{"ok":false,"error":"unknown \"cmd\" \"reboot\": ports, nodes, device, attach or detach"}' ]
	[ "$(ask_proxy '{"cmd":"attach"}')" = '{"ok":false,"error":"needs \"device\": an id as usbws nodes shows it"}' ]
	[ "$(ask_proxy '{"cmd":"nodes","node":7}')" = '{"ok":false,"error":"\"node\" must be a pattern of 1..64 printable bytes (fnmatch, e.g. gw-*)"}' ]
	# the tunnel went on through all of it
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/read.img"
	cmp "$WORK/a.img" "$WORK/read.img"
	absent "disconnected|closing" "$WORK/proxy.log"
}
