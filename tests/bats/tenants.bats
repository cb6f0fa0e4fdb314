#!/usr/bin/env bats
# What one node can and cannot do to another on a shared proxy: see the
# other's devices, learn of devices it does not export, or take all the
# tunnels.  Nodes are real usbws connect processes or tests/wspeer; each
# test starts its own proxy and PKI (node.pem is node-1, node2.pem node-2).

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# list_remote CERT-NAME: the proxy's listing as that node sees it, JSON on stdout
list_remote() {
	"$USBWS" list --remote "$URL" --json --cert "$PKI/$1.pem" --key "$PKI/$1.key" --ca "$PKI/ca.pem" \
		2>>"$WORK/list.log"
}

@test "a node's listing shows its own exported devices only: no other node's, and no unexported device" {
	# every node here has a YubiKey (1-1), a hub and a disk it does not export
	fake_sysfs
	random_image "$WORK/d.img" 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node1.log" node "storage:$WORK/d.img"
	bus1=$BUSID
	start_node "$WORK/node2.log" node2 sourcesink
	bus2=$BUSID
	list_remote node2 >"$WORK/l2.json"
	[ "$(jq -c . "$WORK/l2.json")" = '{"nodes":[{"node":"node-2","devices":[{"busid":"'"$bus2"'","vendor":"0525","product":"a4a0","speed":"high","class":"ff","interfaces":[{"class":"ff","subclass":"00","protocol":"00"}],"state":"exported"}]}]}' ]
	list_remote node >"$WORK/l1.json"
	[ "$(jq -c . "$WORK/l1.json")" = '{"nodes":[{"node":"node-1","devices":[{"busid":"'"$bus1"'","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[{"class":"08","subclass":"06","protocol":"50"}],"state":"exported"}]}]}' ]
	# the YubiKey, the hub and the disk are nowhere, whoever asks
	absent '1050|0407|0bda|0781|available' "$WORK/l1.json"
	absent '1050|0407|0bda|0781|available' "$WORK/l2.json"
	# a node with nothing exported sees an empty listing
	stop_procs
	start_proxy "$WORK/proxy2.log" server --vhci none
	start_node "$WORK/node1.log" node "storage:$WORK/d.img"
	[ "$(list_remote node2 | jq -c .)" = '{"nodes":[]}' ]
}

@test "a node past --max-tunnels-per-node is refused with the limit named, parked tunnels counted; another node still gets in" {
	run "$(PROXY_BIN)" --max-tunnels-per-node 0
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --max-tunnels-per-node needs a count from 1 to 4096, not '0'" ]
	run "$(PROXY_BIN)" --max-ports-per-node x
	[ "$output" = "usbws-proxy: --max-ports-per-node needs a count from 1 to 2048, not 'x'" ]
	start_proxy "$WORK/proxy.log" server --vhci none --max-tunnels-per-node 3 --resume-time 6
	# three devices of one node: one connection per busid
	for i in 1 2 3; do
		start_node "$WORK/node$i.log" node sourcesink --busid "1-$i"
		pid[$i]=$NODE_PID
	done
	limit="node node-1 already has 3 tunnels, live or kept for a resume, the most this proxy allows one node (--max-tunnels-per-node); end one, or let a lost one's 6 s resume time pass"
	# a fourth live one is refused, and tries again only after a backoff
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --busid 1-4 --retries 2
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[ "$(grep -cF "usbws: error: the proxy refused: $limit (limit)" <<<"$output")" -eq 2 ]
	[[ "$output" == *"giving up after 2 attempts (--retries)"* ]]
	[ "$(grep -cF "usbws-proxy: warning: node node-1: closing its tunnel: $limit" "$WORK/proxy.log")" -eq 2 ]
	# nodes killed outright leave their tunnels parked: they still count
	kill -9 "${pid[@]}"
	wait_count "$WORK/proxy.log" "node node-1: connection lost; keeping busid $ADDR_RE for 6 s" 3
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --busid 1-5 --retries 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws: error: the proxy refused: $limit (limit)"* ]]
	[ "$(grep -cF "closing its tunnel: $limit" "$WORK/proxy.log")" -eq 3 ]
	# node-1's share is its own: node-2 exports as usual
	start_node "$WORK/node2.log" node2 sourcesink
	grep -q "which knows this node as node-2" "$WORK/node2.log"
	# once the parked ones expire node-1 gets in again
	wait_count "$WORK/proxy.log" "node node-1 did not resume within 6 s" 3 15
	start_node "$WORK/node4.log" node sourcesink
}

@test "1000 exported devices: the node's listing and the USB/IP device list hold every one" {
	start_proxy "$WORK/proxy.log" server --vhci none --max-tunnels-per-node 1000
	# one process, 1000 connections of node-1, each exporting a vendor-class
	# device, its own busid 1-N (wspeer --connections)
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a0","speed":"high","class":"ff","interfaces":[{"class":"ff","subclass":"00","protocol":"00"}]}}'
	dev="$(printf '%0512d' 0) 312d31$(printf '%058d' 0) 00000001 00000001 00000003 0525 a4a0 0100 ff 00 00 01 01 01"
	"$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--connections 1000 --timeout 300 --text "$hello" --hex "01118006 00000000 $dev" >"$WORK/peer.out" &
	PIDS+=($!)
	wait_for "$WORK/peer.out" "^all 1000 welcomed$" 120
	grep -E "^usbws-proxy: info: node node-1 exported 0525:a4a0 \(its 1-[0-9]+\) as busid node-1-[0-9a-f]{16}, by its port$" "$WORK/proxy.log" |
		sed 's/.* as busid \([^,]*\),.*/\1/' | sort >"$WORK/busids"
	[ "$(wc -l <"$WORK/busids")" -eq 1000 ]
	[ "$(sort -u "$WORK/busids" | wc -l)" -eq 1000 ]
	# the listing: valid JSON, one node, every device, far past one 64 KiB frame
	list_remote node >"$WORK/list.json"
	[ "$(stat -c %s "$WORK/list.json")" -gt 262144 ]
	[ "$(jq -c '[.nodes[].node]' "$WORK/list.json")" = '["node-1"]' ]
	[ "$(jq '.nodes[0].devices | length' "$WORK/list.json")" -eq 1000 ]
	[ "$(jq -c '[.nodes[0].devices[] | {vendor, product, speed, class, interfaces, state}] | unique' "$WORK/list.json")" = \
		'[{"vendor":"0525","product":"a4a0","speed":"high","class":"ff","interfaces":[{"class":"ff","subclass":"00","protocol":"00"}],"state":"exported"}]' ]
	diff <(jq -r '.nodes[0].devices[].busid' "$WORK/list.json" | sort) "$WORK/busids"
	# OP_REP_DEVLIST: 12 + 1000 x 316 bytes, more than the importer's buffer holds at once
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[ "$(grep -c " 0525:a4a0 speed=3 interfaces=1$" <<<"$output")" -eq 1000 ]
	diff <(awk '{print $1}' <<<"$output" | sort) "$WORK/busids"
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(grep -cE "^ *node-1-[0-9a-f]{16}: .*\(0525:a4a0\)$" <<<"$output")" -eq 1000 ]
	# and node-2 sees none of them
	[ "$(list_remote node2 | jq -c .)" = '{"nodes":[]}' ]
}
