#!/usr/bin/env bats
# What systemd and journald see of the programs: the syslog priority of
# each line when stderr is the journal's stream, a timestamp on a terminal,
# --log-level, and sd_notify(3)'s READY, STATUS, WATCHDOG and STOPPING, read
# from a NOTIFY_SOCKET as systemd would.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# notify_socket [PORT]: systemd's end of NOTIFY_SOCKET at $WORK/notify, its
# messages appended to $WORK/notified; at READY=1, whether PORT listens
notify_socket() {
	python3 "$BATS_TEST_DIRNAME/notifysock.py" "$WORK/notify" "$WORK/notified" "$@" &
	PIDS+=($!)
	for _ in $(seq 50); do
		[ -S "$WORK/notify" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "with stderr as the journal's stream, every line carries its syslog priority, and nothing else of the format" {
	: >"$WORK/proxy.log"
	JOURNAL_STREAM=$(stat -c %d:%i "$WORK/proxy.log") start_proxy "$WORK/proxy.log"
	grep -qx "<6>listening for nodes on 127.0.0.1:0 (port $WSS_PORT)" "$WORK/proxy.log"
	start_node "$WORK/node.log" node sourcesink
	grep -qE "^<6>node node-1 exported 0525:a4a0 \(its 1-1\) as busid $BUSID, by " "$WORK/proxy.log"
	# an error is priority 3, and said without the program's name (the
	# journal has it)
	printf 'attach device=0525:a4a\n' >"$WORK/bad.policy"
	: >"$WORK/bad.log"
	JOURNAL_STREAM=$(stat -c %d:%i "$WORK/bad.log") \
		"$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" \
		--ca "$PKI/ca.pem" --policy "$WORK/bad.policy" 2>>"$WORK/bad.log" || true
	grep -qxE "<3>$(re "$WORK/bad.policy:1: device=0525:a4a: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *")" "$WORK/bad.log"
	absent '^[^<]' "$WORK/proxy.log"
	absent '^[^<]' "$WORK/bad.log"
}

@test "a JOURNAL_STREAM that names another file is not the journal: plain lines" {
	: >"$WORK/other"
	JOURNAL_STREAM=$(stat -c %d:%i "$WORK/other") start_proxy "$WORK/proxy.log"
	grep -qx "usbws-proxy: info: listening for nodes on 127.0.0.1:0 (port $WSS_PORT)" "$WORK/proxy.log"
	absent '^<' "$WORK/proxy.log"
}

@test "on a terminal each line starts with the local time, to the millisecond" {
	run script -qefc "'$USBWS' connect --url wss://127.0.0.1:1/usbip --cert '$PKI/node.pem' --key '$PKI/node.key' \
		--ca '$PKI/ca.pem' --virtual sourcesink --retries 1" /dev/null
	[ "$status" -ne 0 ]
	lines=$(printf '%s\n' "$output" | tr -d '\r')
	echo "$lines"
	printf '%s\n' "$lines" | grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} usbws: error: giving up after 1 attempts \(--retries\)$"
	# and every line has it
	[ -z "$(printf '%s\n' "$lines" | grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{12} usbws: ')" ]
}

@test "--log-level shows what it names and above, and refuses a level it does not know" {
	run "$USBWS" connect --url wss://127.0.0.1:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 1 --log-level error
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot connect to wss://127.0.0.1:1/usbip: Connection refused
usbws: error: giving up after 1 attempts (--retries)" ]
	run "$USBWS" connect --url wss://127.0.0.1:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 2 --log-level info
	[[ "$output" == *"usbws: info: attempt 1 failed; next in "* ]]
	run "$USBWS" connect --log-level loud
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --log-level is error, warning, info or debug, not 'loud'" ]
	run "$(PROXY_BIN)" --log-level loud
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --log-level is error, warning, info or debug, not 'loud'" ]
	start_proxy "$WORK/proxy.log" server --log-level debug
	grep -q "usbws-proxy: debug: " "$WORK/proxy.log"
}

@test "the proxy tells systemd it is ready once it listens, counts its tunnels, feeds the watchdog and says it stops" {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	notify_socket "$port"
	NOTIFY_SOCKET=$WORK/notify WATCHDOG_USEC=2000000 PROXY_LISTEN=127.0.0.1:$port start_proxy "$WORK/proxy.log"
	wait_for "$WORK/notified" '^READY=1$'
	[ "$(grep -c '^READY=1$' "$WORK/notified")" -eq 1 ]
	# ready means listening: the port took a connection the moment it was said
	wait_for "$WORK/notified" '^probe='
	grep -qx 'probe=open' "$WORK/notified"
	wait_for "$WORK/notified" '^STATUS=0 tunnels$'
	start_node "$WORK/node.log" node sourcesink
	wait_for "$WORK/notified" '^STATUS=1 tunnel$'
	# half of WATCHDOG_USEC: about one a second
	wait_count "$WORK/notified" '^WATCHDOG=1$' 3 10
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	wait_for "$WORK/notified" '^STATUS=0 tunnels$'
	kill -TERM "$PROXY_PID"
	wait "$PROXY_PID"
	grep -qx 'STOPPING=1' "$WORK/notified"
}

@test "a proxy with no watchdog asked for sends none" {
	notify_socket
	NOTIFY_SOCKET=$WORK/notify start_proxy "$WORK/proxy.log"
	wait_for "$WORK/notified" '^READY=1$'
	sleep 3
	absent '^WATCHDOG' "$WORK/notified"
}

@test "the node is ready once exported, says what it exports where, and feeds the watchdog" {
	start_proxy "$WORK/proxy.log"
	notify_socket
	NOTIFY_SOCKET=$WORK/notify WATCHDOG_USEC=2000000 start_node "$WORK/node.log" node sourcesink
	wait_for "$WORK/notified" '^READY=1$'
	wait_for "$WORK/notified" "^STATUS=exported 1-1 to $(re "$URL") as $BUSID\$"
	wait_count "$WORK/notified" '^WATCHDOG=1$' 3 10
	[ "$(grep -c '^READY=1$' "$WORK/notified")" -eq 1 ]
}

@test "a node that cannot reach its proxy is ready once it is retrying, and says so" {
	notify_socket
	NOTIFY_SOCKET=$WORK/notify "$USBWS" connect --url wss://127.0.0.1:1/usbip --cert "$PKI/node.pem" \
		--key "$PKI/node.key" --ca "$PKI/ca.pem" --virtual sourcesink 2>"$WORK/node.log" &
	PIDS+=($!)
	wait_for "$WORK/notified" '^READY=1$'
	grep -qx 'STATUS=connecting 1-1 to wss://127.0.0.1:1/usbip' "$WORK/notified"
	grep -q "attempt 1 failed" "$WORK/node.log"
}

@test "a node's dial may block past the watchdog: it lengthens WatchdogSec for the dial, then puts it back" {
	start_proxy "$WORK/proxy.log"
	start_relay "$WSS_PORT"
	# every byte swallowed: the TLS handshake waits --connect-timeout out
	kill -USR1 "$RELAY_PID"
	notify_socket
	NOTIFY_SOCKET=$WORK/notify WATCHDOG_USEC=2000000 "$USBWS" connect --url "wss://localhost:$RELAY_PORT/usbip" \
		--cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" --virtual sourcesink \
		--connect-timeout 2 2>"$WORK/node.log" &
	PIDS+=($!)
	wait_for "$WORK/node.log" "attempt 1 failed" 15
	# 2 s of watchdog, plus 4 connect timeouts and 60 s for the dial
	grep -n '' "$WORK/notified"
	stretched=$(grep -n '^WATCHDOG_USEC=70000000$' "$WORK/notified" | head -1 | cut -d: -f1)
	restored=$(grep -n '^WATCHDOG_USEC=2000000$' "$WORK/notified" | head -1 | cut -d: -f1)
	[ -n "$stretched" ] && [ -n "$restored" ]
	[ "$stretched" -lt "$restored" ]
}
