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
