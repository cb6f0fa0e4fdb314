#!/usr/bin/env bats
# tests/tcprelay, the relay the outage tests put between two endpoints,
# checked with plain sockets (tcppeer.py) before anything relies on it.

load helpers

setup() {
	usbws_setup
	command -v python3 >/dev/null || skip "python3 is not installed (scripts/deps test)"
	PEER=$BATS_TEST_DIRNAME/tcppeer.py
}
teardown() { usbws_teardown; }

# start_peer LOG ARGS...: a tcppeer.py server; sets PEER_PORT
start_peer() {
	local log=$1
	shift
	python3 "$PEER" "$@" >"$log" 2>&1 &
	PIDS+=($!)
	wait_for "$log" "^listening on port [0-9]+$" || return 1
	PEER_PORT=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$log")
}

@test "5 MB each way arrive intact, on one connection and on 64 at once" {
	head -c 5242880 /dev/urandom >"$WORK/up.bin"
	head -c 5242880 /dev/urandom >"$WORK/down.bin"
	mkdir "$WORK/got"
	start_peer "$WORK/peer.log" duplex-server "$WORK/down.bin" "$WORK/got"
	start_relay "$PEER_PORT"
	[ "$(cat "$WORK/relay.pid")" = "$RELAY_PID" ]

	run python3 "$PEER" duplex "$RELAY_PORT" "$WORK/up.bin" "$WORK/down.got"
	[ "$status" -eq 0 ]
	wait_for "$WORK/peer.log" "^conn 0: done$"
	[ "$(sha256sum <"$WORK/got/0")" = "$(sha256sum <"$WORK/up.bin")" ]
	[ "$(sha256sum <"$WORK/down.got.0")" = "$(sha256sum <"$WORK/down.bin")" ]

	# 64 connections at once, 256 KiB each way each: four halves' worth
	head -c 262144 "$WORK/up.bin" >"$WORK/up64.bin"
	head -c 262144 "$WORK/down.bin" >"$WORK/down64.bin"
	stop_procs
	rm -f "$WORK"/got/*
	start_peer "$WORK/peer64.log" duplex-server "$WORK/down64.bin" "$WORK/got"
	start_relay "$PEER_PORT"
	run python3 "$PEER" duplex "$RELAY_PORT" "$WORK/up64.bin" "$WORK/down64.got" 64
	[ "$status" -eq 0 ]
	for i in $(seq 0 63); do
		wait_for "$WORK/peer64.log" "^conn $i: done$"
		cmp "$WORK/got/$i" "$WORK/up64.bin"
		cmp "$WORK/down64.got.$i" "$WORK/down64.bin"
	done

	# SIGTERM: exit status 0, pidfile gone
	kill -TERM "$RELAY_PID"
	rc=0
	wait "$RELAY_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -e "$WORK/relay.pid" ]
}

@test "SIGUSR1 makes the link silent without closing; SIGUSR2 resets what it held" {
	start_peer "$WORK/echo.log" echo-server
	start_relay "$PEER_PORT"
	run python3 "$PEER" session "$RELAY_PORT" \
		connect send:hello expect:hello \
		signal:USR1 "wait:tcprelay: outage started (blackhole); 1 connections frozen" \
		send:ping silence:1 \
		connect send:parked silence:0.5 \
		signal:USR2 "wait:tcprelay: outage ended; reset 2 connections" \
		use:0 reset use:1 reset \
		connect send:again expect:again
	echo "$output"
	[ "$status" -eq 0 ]
	# the target saw the first connection reset, never closed, and without
	# "ping"; the parked one never reached it
	wait_for "$WORK/echo.log" "^conn 0: reset after 5 bytes$"
	[ "$(grep -c "^conn 0: closed" "$WORK/echo.log")" -eq 0 ]
	grep -q "^conn 1: open$" "$WORK/echo.log"
	[ "$(grep -c "^conn 2:" "$WORK/echo.log")" -eq 0 ]
}

@test "SIGHUP resets everything and refuses new connections until SIGUSR2" {
	start_peer "$WORK/echo.log" echo-server
	start_relay "$PEER_PORT"
	run python3 "$PEER" session "$RELAY_PORT" \
		connect send:hello expect:hello \
		signal:HUP "wait:tcprelay: outage started (cut); reset 1 connections" \
		reset refused refused \
		signal:USR2 "wait:tcprelay: outage ended; reset 0 connections" \
		connect send:back expect:back
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for "$WORK/echo.log" "^conn 0: reset after 5 bytes$"
	grep -q "^conn 1: open$" "$WORK/echo.log"
	[ "$(grep -c "^conn 2:" "$WORK/echo.log")" -eq 0 ]
}
