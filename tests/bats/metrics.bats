#!/usr/bin/env bats
# usbws-proxy --metrics-listen: Prometheus scrapes /metrics during a real
# transfer and the counters move with it; refusals, firewall violations and
# handshakes land under their labels; promtool (Debian's prometheus) checks
# every answer.

load helpers

setup() {
	usbws_setup
	pki
	command -v promtool >/dev/null || skip "promtool is missing (apt-get install prometheus)"
	METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}
teardown() { usbws_teardown; }

# scrape [FILE]: /metrics into FILE (default $WORK/metrics), checked by promtool
scrape() {
	local out=${1:-$WORK/metrics}
	curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$out" || return 1
	promtool check metrics <"$out"
}

# value NAME{LABELS} [FILE]: that series' value (no line: fails)
value() {
	local series=$1 file=${2:-$WORK/metrics}
	awk -v s="$series" '$1 == s { print $2; found = 1 } END { exit !found }' "$file"
}

@test "a scrape during a transfer sees bytes and URBs move, per device too, and promtool passes it" {
	random_image "$WORK/disk.img" 32
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT" --threads 2
	grep -qx "usbws-proxy: info: serving metrics on http://127.0.0.1:$METRICS_PORT/metrics" "$WORK/proxy.log"
	# a first tunnel takes thread 0, so the disk's is on thread 1 and a
	# scrape (thread 0's) reads it from the copy that thread makes
	start_node "$WORK/idle.log" node sourcesink --busid 1-9
	idle=$BUSID
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	scrape "$WORK/before"
	[ "$(value 'usbws_tunnels{state="connected"}' "$WORK/before")" -eq 2 ]
	[ "$(value 'usbws_devices{state="offered"}' "$WORK/before")" -eq 2 ]
	[ "$(value 'usbws_exports_total' "$WORK/before")" -eq 2 ]
	[ "$(value 'usbws_handshake_duration_seconds_count' "$WORK/before")" -eq 2 ]
	before=$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/before")
	# small URBs one at a time: a read of a few seconds, which scrapes
	# (one answer a second) see under way
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 1 127.0.0.1 read-disk "$BUSID" "$WORK/read.img" &
	reader=$!
	# during: the device is re-exported and the bytes climb
	during=$before
	for _ in $(seq 100); do
		scrape "$WORK/during"
		during=$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/during")
		[ "$during" -gt $((before + 1048576)) ] && break
		sleep 0.05
	done
	[ "$(value 'usbws_devices{state="re-exported"}' "$WORK/during")" -eq 1 ]
	wait "$reader"
	cmp "$WORK/read.img" "$WORK/disk.img"
	# scrapes within a second share one answer
	sleep 1.1
	scrape "$WORK/after"
	after=$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/after")
	echo "from_device bytes: $before, $during, $after"
	[ "$during" -gt "$before" ]
	[ "$after" -gt "$during" ]
	# the whole disk came from the device, with its USB/IP headers
	[ "$after" -gt 33554432 ]
	# every URB sent was answered, and each answer timed
	urbs=$(value 'usbws_urbs_total{direction="to_device"}' "$WORK/after")
	[ "$urbs" -gt 8192 ]
	[ "$(value 'usbws_urbs_total{direction="from_device"}' "$WORK/after")" -eq "$urbs" ]
	[ "$(value 'usbws_urb_round_trip_seconds_count' "$WORK/after")" -eq "$urbs" ]
	[ "$(value 'usbws_urb_round_trip_seconds_bucket{le="+Inf"}' "$WORK/after")" -eq "$urbs" ]
	# the devices' own series add up to the same
	disk_bytes=$(value "usbws_device_bytes_total{node=\"node-1\",device=\"$BUSID\",direction=\"from_device\"}" "$WORK/after")
	idle_bytes=$(value "usbws_device_bytes_total{node=\"node-1\",device=\"$idle\",direction=\"from_device\"}" "$WORK/after")
	[ $((disk_bytes + idle_bytes)) -eq "$after" ]
	[ "$(value "usbws_device_urbs_total{node=\"node-1\",device=\"$BUSID\",direction=\"to_device\"}" "$WORK/after")" -eq "$urbs" ]
	# a tunnel that ends keeps its traffic in the totals
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	sleep 1.1
	scrape "$WORK/gone"
	[ "$(value 'usbws_tunnels{state="connected"}' "$WORK/gone")" -eq 1 ]
	[ "$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/gone")" -ge "$after" ]
	[ "$(value 'usbws_urbs_total{direction="to_device"}' "$WORK/gone")" -ge "$urbs" ]
	absent "^usbws_device_.*device=\"$BUSID\"" "$WORK/gone"
}

@test "refused handshakes are counted by reason" {
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT"
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/foreign-node.pem" --key "$PKI/foreign-node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --connect-timeout 5
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/expired.pem" --key "$PKI/expired.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --connect-timeout 5
	run timeout 10 openssl s_client -connect "127.0.0.1:$WSS_PORT" -CAfile "$PKI/ca.pem" </dev/null
	wait_for "$WORK/proxy.log" "certificate required"
	scrape
	[ "$(value 'usbws_tls_refusals_total{reason="unknown_ca"}')" -eq 1 ]
	[ "$(value 'usbws_tls_refusals_total{reason="expired"}')" -eq 1 ]
	[ "$(value 'usbws_tls_refusals_total{reason="no_certificate"}')" -eq 1 ]
	[ "$(value 'usbws_tls_refusals_total{reason="revoked"}')" -eq 0 ]
	[ "$(value 'usbws_handshake_duration_seconds_count')" -eq 0 ]
}

@test "a node that breaks a USB/IP rule is counted under that rule" {
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT"
	peer=("$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem")
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[]}}'
	# an unsolicited RET_SUBMIT right after the export header
	dev=$(printf '%0512d' 0)312d31$(printf '%0106d' 0)
	run "${peer[@]}" --text "$hello" --hex "0111800600000000${dev}00000003000000070000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	[[ "$output" == *"closed: USB/IP protocol violation: reply to a seqnum that is not outstanding (unsolicited)"* ]]
	scrape
	[ "$(value 'usbws_firewall_violations_total{from="node",rule="unsolicited"}')" -eq 1 ]
	[ "$(value 'usbws_firewall_violations_total{from="node",rule="version"}')" -eq 0 ]
	[ "$(value 'usbws_firewall_violations_total{from="importer",rule="unsolicited"}')" -eq 0 ]
}

@test "--metrics-node-labels off leaves out the per-device series" {
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT" --metrics-node-labels off
	start_node "$WORK/node.log" node sourcesink
	scrape
	[ "$(value 'usbws_tunnels{state="connected"}')" -eq 1 ]
	absent 'usbws_device_' "$WORK/metrics"
	absent 'node="' "$WORK/metrics"
}

@test "only /metrics is served; a bad or taken address is refused with the reason" {
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/")" = 404 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/metrics/x")" = 404 ]
	# a second proxy, with a control socket of its own
	mkdir -p "$WORK/second"
	USBWS_RUN_DIR=$WORK/second run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" \
		--key "$PKI/server.key" --ca "$PKI/ca.pem" --metrics-listen "127.0.0.1:$METRICS_PORT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: --metrics-listen: cannot listen on 127.0.0.1:$METRICS_PORT: Address already in use (is another program serving metrics there?)"* ]]
	USBWS_RUN_DIR=$WORK/second run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" \
		--key "$PKI/server.key" --ca "$PKI/ca.pem" --metrics-listen localhost:9100
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: --metrics-listen: 'localhost:9100': the address must be numeric (127.0.0.1, 0.0.0.0, ::1)"* ]]
	USBWS_RUN_DIR=$WORK/second run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" \
		--key "$PKI/server.key" --ca "$PKI/ca.pem" --metrics-listen 127.0.0.1:0
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: --metrics-listen: '127.0.0.1:0': the port must be a number from 1 to 65535"* ]]
	run "$(PROXY_BIN)" --metrics-node-labels maybe
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --metrics-node-labels is on or off, not 'maybe'" ]
}

@test "usbws connect serves its export's metrics: the same URBs as the proxy, its handshakes, a resumption" {
	random_image "$WORK/disk.img" 16
	NODE_METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	start_proxy "$WORK/proxy.log" server --metrics-listen "127.0.0.1:$METRICS_PORT"
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/node.log" node "storage:$WORK/disk.img" \
		--ping-interval 1 --ping-timeout 3 --connect-timeout 2 --backoff-max 2 \
		--metrics-listen "127.0.0.1:$NODE_METRICS_PORT"
	grep -q "usbws: info: serving metrics on http://127.0.0.1:$NODE_METRICS_PORT/metrics" "$WORK/node.log"
	# a read of a few seconds, small URBs one at a time, scraped under way
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 1 127.0.0.1 read-disk "$BUSID" "$WORK/read.img" &
	reader=$!
	during=0
	for _ in $(seq 100); do
		METRICS_PORT=$NODE_METRICS_PORT scrape "$WORK/node-during"
		during=$(value 'usbws_urbs_total{direction="from_device"}' "$WORK/node-during")
		[ "$during" -gt 256 ] && break
		sleep 0.05
	done
	wait "$reader"
	cmp "$WORK/read.img" "$WORK/disk.img"
	# the node publishes twice a second
	sleep 1
	METRICS_PORT=$NODE_METRICS_PORT scrape "$WORK/node"
	scrape "$WORK/proxy"
	[ "$(value 'usbws_link_up' "$WORK/node")" -eq 1 ]
	[ "$(value 'usbws_exported' "$WORK/node")" -eq 1 ]
	urbs=$(value 'usbws_urbs_total{direction="to_device"}' "$WORK/proxy")
	# 16 MiB in 4 KiB URBs; the scrape under way saw part of them
	[ "$urbs" -gt 4096 ]
	echo "node URBs: $during during the read, $urbs after"
	[ "$during" -gt 256 ] && [ "$during" -lt "$urbs" ]
	[ "$(value 'usbws_urbs_total{direction="to_device"}' "$WORK/node")" -eq "$urbs" ]
	[ "$(value 'usbws_urbs_total{direction="from_device"}' "$WORK/node")" -eq "$urbs" ]
	[ "$(value 'usbws_urb_round_trip_seconds_count' "$WORK/node")" -eq "$urbs" ]
	# what the node sent is what the proxy framed; what it received, the
	# importer's commands and the 8 bytes of the proxy's own OP_REP_EXPORT
	[ "$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/node")" -eq \
		"$(value 'usbws_bytes_total{direction="from_device"}' "$WORK/proxy")" ]
	[ "$(value 'usbws_bytes_total{direction="to_device"}' "$WORK/node")" -eq \
		$(($(value 'usbws_bytes_total{direction="to_device"}' "$WORK/proxy") + 8)) ]
	[ "$(value 'usbws_handshake_duration_seconds_count' "$WORK/node")" -eq 1 ]
	[ "$(value 'usbws_resumptions_total' "$WORK/node")" -eq 0 ]
	# a cut link: the node comes back through the relay and resumes
	kill -HUP "$RELAY_PID"
	sleep 0.3
	kill -USR2 "$RELAY_PID"
	wait_for "$WORK/node.log" "resumed session with the proxy" 20
	sleep 1
	METRICS_PORT=$NODE_METRICS_PORT scrape "$WORK/node"
	scrape "$WORK/proxy"
	[ "$(value 'usbws_resumptions_total' "$WORK/node")" -eq 1 ]
	[ "$(value 'usbws_reconnects_total' "$WORK/node")" -eq 1 ]
	[ "$(value 'usbws_handshake_duration_seconds_count' "$WORK/node")" -eq 2 ]
	[ "$(value 'usbws_resumptions_total' "$WORK/proxy")" -eq 1 ]
	[ "$(value 'usbws_reconnects_total{how="resumed"}' "$WORK/proxy")" -eq 1 ]
	[ "$(value 'usbws_exports_total' "$WORK/proxy")" -eq 1 ]
}

@test "usbws connect refuses --metrics-listen with --match, and a taken address, with the reason" {
	run "$USBWS" connect --url wss://127.0.0.1:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --match 0525:a4a5 --metrics-listen "127.0.0.1:$METRICS_PORT"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --metrics-listen serves one export's metrics; with --match each device is a process of its own: run one usbws connect --busid per device instead" ]
	python3 -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' \
		"$METRICS_PORT" &
	PIDS+=($!)
	sleep 0.5
	run "$USBWS" connect --url wss://127.0.0.1:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --metrics-listen "127.0.0.1:$METRICS_PORT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws: error: --metrics-listen: cannot listen on 127.0.0.1:$METRICS_PORT: Address already in use (is another program serving metrics there?)"* ]]
}
