#!/usr/bin/env bats
# usbws connect --match/--all against the fake sysfs tree (helpers.bash
# fake_sysfs): which devices are exported, plugs and unplugs seen by the
# supervisor's rescans (a fake tree sends no udev events), restarts, and
# the argument checks.

load helpers

setup() {
	usbws_setup
	fake_sysfs
	S=$USBWS_SYSFS_ROOT
}
teardown() { usbws_teardown; }

# start_hotplug LOG ARGS...: usbws connect ARGS against $URL as node-1;
# sets HOTPLUG_PID
start_hotplug() {
	local log=$1
	shift
	"$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" "$@" 2>"$log" &
	HOTPLUG_PID=$!
	PIDS+=($HOTPLUG_PID)
	wait_for "$log" "as they are plugged in"
}

# wait_until SECONDS COMMAND...: until COMMAND succeeds
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_log SECONDS FILE REGEX: wait_for with a longer bound, for what a
# rescan (every 2 s) or a restart backoff has to notice first
wait_log() {
	wait_until "$1" grep -qE "$3" "$2" || { cat "$2" >&2; return 1; }
}

# blackhole: a TCP port that reads each TLS ClientHello and never answers,
# so a node's export waits in its handshake (alive, control socket open)
# until it is stopped; sets URL.  $WORK/blackhole.log gets a line per hello.
blackhole() {
	python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    if c.recv(4096):
        print("hello", file=sys.stderr, flush=True)' >"$WORK/blackhole.port" 2>"$WORK/blackhole.log" &
	PIDS+=($!)
	wait_until 5 test -s "$WORK/blackhole.port"
	URL=wss://127.0.0.1:$(cat "$WORK/blackhole.port")/usbip
}

# hellos N: until N handshakes wait on the blackhole
hellos() {
	wait_until 10 hellos_at_least "$1"
}
hellos_at_least() { [ "$(grep -c hello "$WORK/blackhole.log")" -ge "$1" ]; }

# plug BUSID VID PID: a full-speed device on usb1, bound to usbip-host and
# available.  The supervisor is paused while it is built, so that no
# rescan sees half a device.
plug() {
	kill -STOP "$HOTPLUG_PID"
	fake_usb_device "devices/pci0000:00/0000:00:14.0/usb1/$1" "$1" "$2" "$3" 12 00 1 "${1#1-}5" 08
	fake_stub "$1" 1
	kill -CONT "$HOTPLUG_PID"
}

# unplug BUSID: the kernel removes the device and its interfaces
unplug() {
	local d
	d=$(realpath "$S/bus/usb/devices/$1")
	rm "$S/bus/usb/devices/$1" "$S/bus/usb/devices/$1:1.0"
	rm -r "$d"
}

child_alive() { kill -0 "$1" 2>/dev/null; }
child_gone() { ! kill -0 "$1" 2>/dev/null; }

@test "connect --match exports the matching devices present at start, and only those" {
	pki
	fake_stub 1-1 1
	fake_stub 2-1 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_hotplug "$WORK/node.log" --match 1050:0407 --match 0BDA:5411
	wait_log 10 "$WORK/proxy.log" "node node-1 exported 1050:0407 \(its 1-1\) as busid"
	cat "$WORK/node.log"
	grep -q "usbws: info: exporting USB devices matching 1050:0407, 0bda:5411 to $URL" "$WORK/node.log"
	grep -q "usbws: info: device 1-1 (1050:0407) present; exporting it" "$WORK/node.log"
	grep -qE "usbws: info: export of 1-1 started \(pid [0-9]+\)" "$WORK/node.log"
	# the child's own lines say whose they are
	grep -q "usbws\[1-1\]: info: usbip-host 1-1 has its socket; relaying" "$WORK/node.log"
	[[ "$(cat "$S/bus/usb/devices/1-1/usbip_sockfd")" =~ ^[0-9]+$ ]]
	# a hub that was asked for by name is refused, and the log says why
	grep -q "device 1-2 (0bda:5411) matches but is not exported: it is a hub" "$WORK/node.log"
	# 2-1 was in the same scan, but no --match names it
	absent "its 2-1" "$WORK/proxy.log"
	absent "device 2-1|export of 2-1" "$WORK/node.log"
	[ ! -s "$S/bus/usb/devices/2-1/usbip_sockfd" ]
	[ ! -s "$S/bus/usb/devices/1-2/usbip_sockfd" ]
}

@test "connect --all exports every device but hubs and vhci_hcd imports" {
	pki
	fake_stub 1-1 1
	fake_stub 2-1 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_hotplug "$WORK/node.log" --all --verbose
	wait_log 10 "$WORK/proxy.log" "node node-1 exported 1050:0407 \(its 1-1\) as busid"
	wait_log 10 "$WORK/proxy.log" "node node-1 exported 0781:5581 \(its 2-1\) as busid"
	grep -q "exporting every USB device but hubs and vhci_hcd imports" "$WORK/node.log"
	grep -q "device 1-2 (0bda:5411) is not exported: it is a hub" "$WORK/node.log"
	grep -q "device 3-1 (046d:c52b) is not exported: it is attached through vhci_hcd" "$WORK/node.log"
	absent "its (1-2|3-1)" "$WORK/proxy.log"
	absent "export of (1-2|3-1) started" "$WORK/node.log"
}

@test "an export that fails while its device stays is restarted, with a growing backoff" {
	pki
	# the fake stub holds no reference to its socket: each export ends at once
	fake_stub 1-1 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_hotplug "$WORK/node.log" --match 1050:0407
	wait_log 10 "$WORK/node.log" "export of 1-1 ended \(exit status 1\); restarting it in 1 s"
	wait_log 10 "$WORK/node.log" "export of 1-1 ended \(exit status 1\); restarting it in 2 s"
	cat "$WORK/node.log"
	# each start was a real export the proxy saw
	[ "$(grep -c "node node-1 exported 1050:0407 (its 1-1)" "$WORK/proxy.log")" -ge 2 ]
	[ "$(grep -cE "export of 1-1 started" "$WORK/node.log")" -ge 2 ]
}

@test "a device plugged in later is exported; unplugging it stops its export" {
	pki
	blackhole
	start_hotplug "$WORK/node.log" --match 0525:a4a5 --connect-timeout 60
	wait_for "$WORK/node.log" "no USB device to export yet; waiting for one to be plugged in"
	[ ! -e "$USBWS_RUN_DIR/connect-1-3.sock" ]
	plug 1-3 0525 a4a5
	wait_log 10 "$WORK/node.log" "device 1-3 \(0525:a4a5\) plugged in; exporting it"
	wait_log 5 "$WORK/node.log" "export of 1-3 started \(pid [0-9]+\)"
	child=$(sed -n 's/.*export of 1-3 started (pid \([0-9]*\)).*/\1/p' "$WORK/node.log")
	# the child runs (waiting on the silent proxy) and owns 1-3's control socket
	wait_until 5 test -S "$USBWS_RUN_DIR/connect-1-3.sock"
	hellos 1
	child_alive "$child"
	unplug 1-3
	wait_log 10 "$WORK/node.log" "device 1-3 left; stopping its export"
	# SIGTERM, or SIGKILL 10 s later if the handshake does not give way
	wait_until 15 child_gone "$child"
	wait_log 5 "$WORK/node.log" "export of 1-3 stopped \("
	[ ! -e "$USBWS_RUN_DIR/connect-1-3.sock" ]
	# a later plug proves rescans went on, and 1-3 was not started again
	plug 1-4 0525 a4a5
	wait_log 10 "$WORK/node.log" "export of 1-4 started"
	cat "$WORK/node.log"
	[ "$(grep -c "export of 1-3 started" "$WORK/node.log")" -eq 1 ]
	# the supervisor itself never exited
	child_alive "$HOTPLUG_PID"
}

@test "SIGTERM stops every export, then the supervisor, with status 0" {
	pki
	blackhole
	fake_stub 1-1 1
	fake_stub 2-1 1
	start_hotplug "$WORK/node.log" --all --connect-timeout 60
	wait_until 10 test -S "$USBWS_RUN_DIR/connect-1-1.sock"
	wait_until 10 test -S "$USBWS_RUN_DIR/connect-2-1.sock"
	hellos 2
	kill -TERM "$HOTPLUG_PID"
	rc=0
	wait "$HOTPLUG_PID" || rc=$?
	cat "$WORK/node.log"
	[ "$rc" -eq 0 ]
	grep -q "usbws: info: stopping 2 exports" "$WORK/node.log"
	grep -qE "export of 1-1 stopped \(" "$WORK/node.log"
	grep -qE "export of 2-1 stopped \(" "$WORK/node.log"
	[ "$(tail -n 1 "$WORK/node.log")" = "usbws: info: stopped" ]
	[ ! -e "$USBWS_RUN_DIR/connect-1-1.sock" ]
	[ ! -e "$USBWS_RUN_DIR/connect-2-1.sock" ]
}

@test "with --user the supervisor stays root, each export parses the network as that user, and still dies with it" {
	pki
	blackhole
	fake_stub 1-1 1
	# as the kernel has it: root's, writable by root alone
	chmod 0200 "$S/bus/usb/devices/1-1/usbip_sockfd"
	chmod 0755 "$WORK"
	start_hotplug "$WORK/node.log" --match 1050:0407 --user nobody --connect-timeout 60
	hellos 1
	cat "$WORK/node.log"
	uid=$(id -u nobody)
	grep -q "usbws\[1-1\]: info: running as nobody (uid $uid)" "$WORK/node.log"
	child=$(sed -n 's/.*export of 1-1 started (pid \([0-9]*\)).*/\1/p' "$WORK/node.log")
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$child/status")" = "$uid $uid $uid $uid" ]
	[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$child/status")" = 0000000000000000 ]
	# the supervisor reads only udev and sysfs, and opens each new device's files
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$HOTPLUG_PID/status")" = "0 0 0 0" ]
	# the kernel clears the parent-death signal when the uid changes; the
	# drop sets it again, so an export never outlives its supervisor
	kill -KILL "$HOTPLUG_PID"
	wait_until 10 child_gone "$child"
}

@test "connect refuses bad --match values and mixing --match/--all with one device" {
	local tls=(--url wss://localhost:1/usbip --cert c --key k --ca a)
	run "$USBWS" connect "${tls[@]}" --match 0525a4a5
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --match 0525a4a5: no colon between vendor and product; expected VID:PID in hex, e.g. 0525:a4a5" ]
	run "$USBWS" connect "${tls[@]}" --match 05z5:a4a5
	[ "$status" -eq 2 ]
	[ "$output" = 'usbws connect: --match 05z5:a4a5: the vendor ID "05z5" is not hexadecimal; expected VID:PID in hex, e.g. 0525:a4a5' ]
	run "$USBWS" connect "${tls[@]}" --match 0525:a4a5 --match 0525:12345
	[ "$status" -eq 2 ]
	[ "$output" = 'usbws connect: --match 0525:12345: the product ID "12345" is longer than 4 hex digits; expected VID:PID in hex, e.g. 0525:a4a5' ]
	run "$USBWS" connect "${tls[@]}" --match 0525:a4a5 --busid 1-1
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --match and --busid do not go together: --busid exports one device, --match every matching device while it is plugged in; give one of them" ]
	run "$USBWS" connect "${tls[@]}" --virtual sourcesink --all
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --all and --virtual do not go together: --virtual exports one device, --all every matching device while it is plugged in; give one of them" ]
	run "$USBWS" connect "${tls[@]}" --all --device usbip-vudc.0
	[ "$status" -eq 2 ]
	[[ "$output" == "usbws connect: --all and --device do not go together"* ]]
	run "$USBWS" connect "${tls[@]}" --all --match 0525:a4a5
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --all already exports every device; drop --match or --all" ]
	run "$USBWS" list --remote wss://localhost:1/usbip --json --cert c --key k --ca a --all
	[ "$status" -eq 2 ]
	[ "$output" = "usbws list: --all is for usbws connect" ]
	# none of them got as far as a control socket or a sysfs write
	[ ! -e "$USBWS_RUN_DIR" ]
	[ ! -s "$S/bus/usb/drivers/usbip-host/match_busid" ]
}
