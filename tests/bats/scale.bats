#!/usr/bin/env bats
# The scale benchmark's parts at a small N, so they cannot rot: the driver
# (tests/scalenodes) brings up a fleet of distinct nodes against a real
# usbws-proxy and brings it back after the proxy dies; bench/scale prints
# its row.

load helpers

setup() {
	usbws_setup
	pki
	DRIVER=$USBWS_BUILDDIR/tests/scalenodes
}
teardown() { usbws_teardown; }

# distinct_exports LOG: how many different scale nodes the proxy says exported
distinct_exports() {
	grep -oE 'node scale-[0-9]{5} exported' "$1" | sort -u | wc -l
}

@test "150 nodes, each with its own certificate, come up, and all come back after the proxy is killed" {
	start_proxy "$WORK/proxy.log" server --vhci none
	proxy=${PIDS[-1]}
	port=$WSS_PORT
	"$DRIVER" --connect "127.0.0.1:$port" --ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key" --nodes 150 \
		--max-inflight 16 --sources 4 >"$WORK/driver.out" 2>"$WORK/driver.err" &
	PIDS+=($!)
	driver=$!
	wait_for "$WORK/driver.out" '^all-up nodes=150 ' 60
	[ "$(distinct_exports "$WORK/proxy.log")" -eq 150 ]
	grep -q 'node scale-00001 exported 0525:a4a0 (its 1-1)' "$WORK/proxy.log"
	grep -q 'node scale-00150 exported' "$WORK/proxy.log"
	# from the sources it was given
	grep -qE '127\.1\.0\.4' <(ss -tn state established "( dport = :$port )")

	kill -USR2 "$driver"
	wait_for "$WORK/driver.out" '^mark$'
	kill -KILL "$proxy"
	wait "$proxy" || true
	PROXY_LISTEN=127.0.0.1:$port start_proxy "$WORK/proxy2.log" server --vhci none
	# the sessions died with the proxy: every node asked to resume, was told
	# so, and exported afresh on that same connection: one TLS handshake each
	wait_for "$WORK/driver.out" '^back-all ms=' 60
	grep -E '^back-all ms=[0-9]+ handshakes=150 per-node=1.00 max=1$' "$WORK/driver.out"
	[ "$(distinct_exports "$WORK/proxy2.log")" -eq 150 ]
	kill -USR1 "$driver"
	wait_for "$WORK/driver.out" '^status up=150 '
	grep -qE '^status up=150 .* no-session=150 fresh=150 errors=0$' "$WORK/driver.out"
	[ ! -s "$WORK/driver.err" ]
}

@test "a node that loses its link resumes its session on the same proxy" {
	start_proxy "$WORK/proxy.log" server --vhci none
	start_relay "$WSS_PORT"
	"$DRIVER" --connect "127.0.0.1:$RELAY_PORT" --ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key" --nodes 5 \
		>"$WORK/driver.out" 2>"$WORK/driver.err" &
	PIDS+=($!)
	driver=$!
	wait_for "$WORK/driver.out" '^all-up nodes=5 '
	kill -USR2 "$driver"
	wait_for "$WORK/driver.out" '^mark$'
	kill -HUP "$RELAY_PID"
	sleep 0.5
	kill -USR2 "$RELAY_PID"
	wait_for "$WORK/driver.out" '^back-all ms=[0-9]+ handshakes=5 per-node=1.00 max=1$' 20
	wait_count "$WORK/proxy.log" 'node scale-[0-9]{5} resumed busid' 5
	[ "$(distinct_exports "$WORK/proxy.log")" -eq 5 ]
	[ "$(grep -c exported "$WORK/proxy.log")" -eq 5 ]
}

@test "bench/scale --quick prints its row, one per --threads" {
	run "$BATS_TEST_DIRNAME/../../bench/scale" --quick --threads "1 2" "$USBWS_BUILDDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "| commit | threads | N | KiB/tunnel | idle CPU % (proxy) |"* ]]
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[2]} == "| "*" | 1 | 100 | "* ]]
	[[ ${lines[3]} == "| "*" | 2 | 100 | "* ]]
	[[ ${lines[3]} =~ ^\|\ [0-9a-f]{7}[^|]*\|\ 2\ \|\ 100\ \|\ -?[0-9]+\.[0-9]\ \|\ [0-9]+\.[0-9]\ \|\ [0-9]+\.[0-9]\ \|\ [1-9][0-9]*\ \|\ [0-9]+\.[0-9]{2},\ [0-9]+\.[0-9]{2}\ \|\ [1-9][0-9]*\ \|\ [1-9]\.[0-9]{2}\ \|$ ]]
}
