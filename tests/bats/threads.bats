#!/usr/bin/env bats
# usbws-proxy --threads: each connection goes to the thread with the least
# to do, and a tunnel, its importer and its vhci socket share a thread.
# What crosses threads is checked where it must work: a resume that lands
# on the other thread moves the tunnel and its importer's socket there in
# the middle of a read; an importer that asks for another thread's device
# moves to it; an attach asked on proxy.sock (thread 0) for a device on
# thread 1; a listing that counts another thread's traffic.  Placement is
# deterministic (least loaded, ties to thread 0), so each case knows which
# thread is which.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

FAST=(--ping-interval 1 --ping-timeout 3)

# relay_node LOG SPEC: a node through a fresh tests/tcprelay to the proxy
relay_node() {
	start_relay "$WSS_PORT" || return 1
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$1" node "$2" "${FAST[@]}" --connect-timeout 2 \
		--backoff-max 2
}

# wait_count FILE REGEX N: until REGEX has matched N lines (15 s at most)
wait_count() {
	local end=$((SECONDS + 15))
	until [ "$(grep -cE "$2" "$1")" -ge "$3" ]; do
		if [ $SECONDS -ge $end ]; then
			echo "$1 has $(grep -cE "$2" "$1") lines matching /$2/, not $3:"
			cat "$1"
			return 1
		fi
		sleep 0.05
	done
}

# hold_thread0: a connection that has not authenticated weighs on thread 0
# until --auth-timeout, so the next one goes to thread 1
hold_thread0() {
	python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(60)' "$WSS_PORT" &
	PIDS+=($!)
	sleep 0.3
}

@test "--threads is 1 to 64, and more than one thread says so" {
	run "$(PROXY_BIN)" --threads 0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --threads needs a number from 1 to 64, not '0'" ]
	run "$(PROXY_BIN)" --threads 65 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem"
	[ "$output" = "usbws-proxy: --threads needs a number from 1 to 64, not '65'" ]
	start_proxy "$WORK/one.log" server --vhci none --threads 1
	absent "serving on" "$WORK/one.log"
	stop_procs
	start_proxy "$WORK/two.log" server --vhci none --threads 3
	grep -qx "usbws-proxy: info: serving on 3 threads" "$WORK/two.log"
}

@test "a resume on the other thread takes the tunnel and its importer along, mid-read, three times over: nothing lost" {
	random_image "$WORK/disk.img" 48
	start_proxy "$WORK/proxy.log" server --vhci none --threads 2 "${FAST[@]}"
	# the node's tunnel goes to thread 0; the importer is accepted on
	# thread 1 and moves to the device's thread
	relay_node "$WORK/node.log" "storage:$WORK/disk.img"
	first=$BUSID
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 2 127.0.0.1 read-disk "$BUSID" "$WORK/read.img" \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)
	# each cut's resume lands on the thread without the tunnel (least
	# loaded), which takes it over
	for i in 1 2 3; do
		sleep 0.4
		kill -0 "$client"
		# cut, and refuse connections for a moment: the link is gone
		kill -HUP "$RELAY_PID"
		sleep 0.3
		kill -USR2 "$RELAY_PID"
		wait_count "$WORK/node.log" "resumed session with the proxy" "$i"
		wait_count "$WORK/proxy.log" "node node-1: busid $first goes to service thread [01], where it resumes, its importer with it" "$i"
	done
	wait "$client"
	cat "$WORK/client.out"
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
	# the tunnel went 0 -> 1 -> 0 -> 1
	[ "$(sed -n 's/.*goes to service thread \([01]\), where.*/\1/p' "$WORK/proxy.log" | tr -d '\n')" = 101 ]
	[ "$(grep -c 'exported 0525:a4a5' "$WORK/proxy.log")" -eq 1 ]
	absent "lost its importer|closing its tunnel" "$WORK/proxy.log"
}

@test "an importer accepted on one thread reads a device of the other; a listing counts the other thread's traffic" {
	random_image "$WORK/a.img" 8
	start_proxy "$WORK/proxy.log" server --vhci none --threads 2
	hold_thread0
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	# thread 0 holds the silent connection, thread 1 the tunnel: the
	# importer goes to thread 0, and on to thread 1 at its request
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a.read"
	cmp "$WORK/a.img" "$WORK/a.read"
	grep -q "busid $a (node node-1) imported" "$WORK/proxy.log"
	# proxy.sock is served by thread 0; the traffic is thread 1's, and
	# what the importer asked for is all there, every URB completed
	run "$USBWS" nodes --json
	echo "$output"
	[ "$(jq '.nodes[0].devices[0].urbs' <<<"$output")" -gt 10 ]
	[ "$(jq '.nodes[0].devices[0].urbs_completed' <<<"$output")" -eq "$(jq '.nodes[0].devices[0].urbs' <<<"$output")" ]
	[ "$(jq '.nodes[0].devices[0].bytes_from_node' <<<"$output")" -gt 8388608 ]
}

@test "usbws attach on proxy.sock attaches a device another thread serves; its socket's close there gives the port back" {
	fake_sysfs
	printf 'on-demand node=node-1\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci auto --policy "$WORK/proxy.policy" --threads 2
	hold_thread0
	start_node "$WORK/a.log" node sourcesink
	a=$BUSID
	run "$USBWS" attach --device "$a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "attached $a at vhci_hcd.0 port 0" ]
	wait_for "$WORK/proxy.log" "node node-1: busid $a \(its 1-1\) attached to vhci_hcd.0 port 0"
	# this sysfs is a tree of files, with no kernel to hold the socket's
	# other end: it closes at once, on the tunnel's thread, which gives
	# the port back and holds the device again
	wait_for "$WORK/proxy.log" "node node-1: busid $a held again"
	run "$USBWS" nodes --json
	[ "$(jq -r '.nodes[0].devices[0].state' <<<"$output")" = held ]
	run "$USBWS" port --json
	[ "$(jq '.ports | length' <<<"$output")" -eq 0 ]
	grep -qx 0 "$USBWS_SYSFS_ROOT/devices/platform/vhci_hcd.0/detach"
}
