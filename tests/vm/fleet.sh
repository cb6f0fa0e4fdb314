# VM scenario: the fleet, under a policy.  Two nodes export a virtual disk
# each; the policy attaches node-1's at once and holds node-2's on demand.
# usbws nodes shows both by their stable addresses; usbws attach puts
# node-2's into vhci_hcd, where usb-storage reads it with its image's
# sha256; usbws detach holds it again with its tunnel kept.  Then node-2's
# link dies: usbws attach waits for it, and once the node has resumed the
# disk is attached and read again.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all' EXIT

head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/a.img"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/b.img"
want_a=$(sha256sum <"$work/a.img" | cut -d' ' -f1)
want_b=$(sha256sum <"$work/b.img" | cut -d' ' -f1)
printf 'attach    node=node-1\non-demand node=node-2\ndefault   deny\n' >"$work/proxy.policy"

start_proxy --vhci auto --policy "$work/proxy.policy" "${FAST[@]}"
start_node "$work/a.log" --virtual "storage:$work/a.img"
a=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$work/a.log")
# node-2 through the relay, whose outages come later
start_relay "$WSS_PORT"
NODE_URL=$RELAY_URL NODE_CERT=node2 start_node "$work/b.log" --virtual "storage:$work/b.img" "${FAST[@]}" \
	--backoff-max 1
b=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$work/b.log")
node_b=$NODE_PID
echo "node-1's disk is $a, node-2's is $b"

dev_a=$(wait_block_dev 0525 a4a5 60) || fail "node-1's disk was not attached"
r=$(dd_rate "$dev_a") || fail "reading $dev_a"
read -r _ _ mbps got <<<"$r"
[ "$got" = "$want_a" ] || fail "node-1's disk read through $dev_a differs from its image"
echo "node-1's disk, attached at once, reads back as $dev_a ($mbps MB/s)"
[ "$(vhci_used)" = 1 ] || fail "node-2's held disk took a vhci port: $(vhci_used) in use"

"$B/usbws/usbws" nodes
"$B/usbws/usbws" nodes --json >"$work/nodes.json"
jq -e --arg a "$a" --arg b "$b" '[.nodes[] | {node, d: .devices[0]} | .node + " " + .d.id + " " + .d.state]
	== ["node-1 " + $a + " attached", "node-2 " + $b + " held"]' "$work/nodes.json" >/dev/null \
	|| fail "usbws nodes: $(cat "$work/nodes.json")"

# read_b: the disk that appeared for $b reads back with its image's sha256
read_b() {
	local dev _
	for _ in $(seq 600); do
		dev=$(block_devs_under vhci_hcd 0525 a4a5 | grep -vx "$dev_a" | head -1 || true)
		[ -n "$dev" ] && break
		sleep 0.1
	done
	[ -n "$dev" ] || fail "no disk appeared for $b after usbws attach"
	r=$(dd_rate "$dev") || fail "reading $dev"
	read -r _ _ mbps got <<<"$r"
	[ "$got" = "$want_b" ] || fail "node-2's disk read through $dev differs from its image"
	echo "node-2's disk, attached on demand, reads back as $dev ($mbps MB/s)"
	"$B/usbws/usbws" nodes --json | jq -e --arg b "$b" \
		'[.nodes[].devices[] | select(.id == $b)][0] | .state == "attached" and .urbs > 100' >/dev/null \
		|| fail "usbws nodes does not show $b attached"
	dev_b=$dev
}

detach_b() {
	local _
	"$B/usbws/usbws" detach --device "$b" || fail "usbws detach --device $b failed"
	for _ in $(seq 300); do [ -e "$dev_b" ] || break; sleep 0.1; done
	[ -e "$dev_b" ] && fail "$dev_b is still there after usbws detach"
	for _ in $(seq 100); do [ "$(vhci_used)" = 1 ] && break; sleep 0.1; done
	[ "$(vhci_used)" = 1 ] || fail "the port of $b is not free after usbws detach"
	"$B/usbws/usbws" nodes --json | jq -e --arg b "$b" \
		'[.nodes[].devices[] | select(.id == $b)][0].state == "held"' >/dev/null \
		|| fail "$b is not held again after usbws detach"
	kill -0 "$node_b" || fail "node-2 stopped when its held device was detached"
	echo "usbws detach --device $b: held again, node-2 still exporting"
}

out=$("$B/usbws/usbws" attach --device "$b") || fail "usbws attach --device $b failed"
echo "$out"
[[ "$out" == "attached $b at vhci_hcd.0 port "* ]] || fail "usbws attach said: $out"
read_b
detach_b
[ "$(grep -c "node node-2 connected" "$work/proxy.log")" = 1 ] || fail "node-2 reconnected during the attach"

# node-2's link goes dead: the proxy keeps its tunnel for a resume, and an
# attach asked for meanwhile waits for the node
kill -USR1 "$RELAY_PID"
wait_for "$work/proxy.log" "node node-2: connection lost; keeping busid $b" 30
"$B/usbws/usbws" attach --device "$b" --timeout 120 >"$work/attach.out" 2>&1 &
attach_pid=$!
sleep 2
kill -0 "$attach_pid" || fail "usbws attach did not wait for the resuming node: $(cat "$work/attach.out")"
[ "$(vhci_used)" = 1 ] || fail "$b was attached while its node was away"
kill -USR2 "$RELAY_PID"
wait "$attach_pid" || fail "usbws attach failed once node-2 was back: $(cat "$work/attach.out")"
cat "$work/attach.out"
grep -q "node node-2 resumed busid $b" "$work/proxy.log" || fail "node-2 did not resume its session"
grep -q "^attached $b (node node-2's 1-1) at vhci_hcd.0 port " "$work/attach.out" \
	|| fail "usbws attach said: $(cat "$work/attach.out")"
read_b
detach_b
echo "PASS: two nodes under a policy: node-1's disk attached at once, node-2's on demand, and again once its node resumed; each read with its sha256"
