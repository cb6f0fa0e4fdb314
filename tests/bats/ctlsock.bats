#!/usr/bin/env bats
# The control sockets (proxy.sock, connect-*.sock) share an event loop with
# the tunnels: clients that connect and say nothing must cost neither the
# other control clients nor the data path a wait.  No timings are asserted:
# each command has a hang guard, and the mechanism is checked (silent
# clients held while others are served, closed at the deadline and not
# before, at most 32 served at once).

load helpers

setup() {
	usbws_setup
	pki
}
teardown() {
	touch "$WORK"/*.stop 2>/dev/null || true
	usbws_teardown
}

DEADLINE_LINE='control socket: a client did not complete its request within 2000 ms; closed it'

# silent SOCKET N NAME [--no-refill]: N clients on SOCKET that never send;
# one the server closes is replaced.  $WORK/NAME.json tells how it goes;
# touching $WORK/NAME.stop ends it.
silent() {
	python3 "$BATS_TEST_DIRNAME/silentclients.py" "$1" "$2" "$WORK/$3.json" "$WORK/$3.stop" "${@:4}" &
	PIDS+=($!)
	SILENT_PID=$!
	wait_for "$WORK/$3.json" '"ready": true' 10
}

# tell LOG NAME: what the server logged and how its silent clients fare, for a failure
tell() {
	grep -v "$DEADLINE_LINE" "$1" | tail -20
	cat "$WORK/$2.json"
	false
}

# silent_done NAME: stops the silent clients and waits for their summary
silent_done() {
	touch "$WORK/$1.stop"
	wait "$SILENT_PID"
}

@test "20 silent clients on proxy.sock: 200 control round trips and a disk read go on; each silent one is closed at 2 s" {
	random_image "$WORK/disk.img" 8
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	silent "$USBWS_RUN_DIR/proxy.sock" 20 proxy
	for i in $(seq 200); do
		# the old proxy served clients one by one, 0.5 s for each silent one ahead
		timeout 5 "$USBWS" port --json >"$WORK/port.json" || tell "$WORK/proxy.log" proxy
		jq -e '.vhci == false and .ports == []' "$WORK/port.json" >/dev/null
	done
	timeout 60 "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	# all that while 20 were held: the ones the proxy closed were replaced
	wait_for "$WORK/proxy.json" '"held": 20,'
	wait_count "$WORK/proxy.log" "$(re "$DEADLINE_LINE")" 20 10
	silent_done proxy
	cat "$WORK/proxy.json"
	jq -e '.closed >= 20 and .min_lifetime_ms >= 1990' "$WORK/proxy.json" >/dev/null
}

@test "20 silent clients on a node's control socket: usbws status and the tunnel's data path go on" {
	local sock
	random_image "$WORK/disk.img" 8
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	sock=$(echo "$USBWS_RUN_DIR"/connect-virtual-*.sock)
	[ -S "$sock" ]
	silent "$sock" 20 node
	for i in $(seq 200); do
		# the old node stopped its whole loop, tunnel included, for each silent client
		timeout 5 "$USBWS" status --json >"$WORK/status.json" || tell "$WORK/node.log" node
		jq -e '.tunnels | length == 1 and .[0].state == "exported"' "$WORK/status.json" >/dev/null
	done
	timeout 60 "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	wait_for "$WORK/node.json" '"held": 20,'
	wait_count "$WORK/node.log" "$(re "$DEADLINE_LINE")" 20 10
	silent_done node
	cat "$WORK/node.json"
	jq -e '.closed >= 20 and .min_lifetime_ms >= 1990' "$WORK/node.json" >/dev/null
}

@test "proxy.sock serves at most 32 clients at once; the rest wait their turn and are served" {
	local proxy_pid base
	start_proxy "$WORK/proxy.log" server --vhci none
	proxy_pid=${PIDS[0]}
	base=$(fds "$proxy_pid")
	# 32 taken, the rest queued in the listen backlog
	silent "$USBWS_RUN_DIR/proxy.sock" 40 flood --no-refill
	[ "$(fds "$proxy_pid")" -le $((base + 32)) ]
	# a round trip waits for a slot, freed at the latest by the deadline
	timeout 10 "$USBWS" port --json >"$WORK/port.json"
	jq -e '.vhci == false' "$WORK/port.json" >/dev/null
	wait_count "$WORK/proxy.log" "$(re "$DEADLINE_LINE")" 40 15
	wait "$SILENT_PID"
	jq -e '.closed == 40 and .min_lifetime_ms >= 1990' "$WORK/flood.json" >/dev/null
	[ "$(fds "$proxy_pid")" -eq "$base" ]
}
