# VM scenario: writes across a faulty link.
# A gadget's disk through usbws connect --busid -> tcprelay -> WSS ->
# usbws-proxy --vhci auto.  24 MiB of random data are written to /dev/sdX
# (O_DIRECT, 64 KiB at a time, fsync at the end) while the relay cuts the
# link twice (SIGHUP, back after 1 s) and blackholes it once for 5 s.  The
# write must succeed, each time the session resumed, and the data must be
# exactly where it was written, once: read back through vhci_hcd, and in
# the gadget's backing file on the node's side, which must otherwise be
# unchanged.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'dump_logs $?; stop_all; gadget_remove disk 2>/dev/null || true' EXIT
seek=16     # 64 KiB blocks: the data go at 1 MiB
count=384   # 24 MiB

make_disk 32
cp "$work/disk.img" "$work/expected.img"
head -c $((count * 65536)) /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$work/expected.img" bs=64k seek=$seek conv=notrunc status=none
gadget_via_relay

mark=$(dmesg_mark)
t_write=$(now_ms)
dd if="$work/patch.bin" of="$dev" bs=64k seek=$seek oflag=direct conv=fsync,notrunc 2>"$work/dd.err" &
writer=$!
faults=0
resumes=0
# fault N KIND: one fault while the write goes on (cut: SIGHUP, SIGUSR2 1 s
# later; blackhole: SIGUSR1, SIGUSR2 5 s later), then waits for the resume
fault() {
	local t0 t1
	sleep 2
	kill -0 "$writer" 2>/dev/null || return 1
	t0=$(now_ms)
	case $1 in
	cut) kill -HUP "$RELAY_PID"; sleep 1 ;;
	blackhole) kill -USR1 "$RELAY_PID"; sleep 5 ;;
	esac
	kill -USR2 "$RELAY_PID"
	t1=$(now_ms)
	faults=$((faults + 1))
	stamp "fault $faults: $1 for $(secs_since "$t0") s, $(kill -0 "$writer" 2>/dev/null && echo "the write still runs" || echo "the write has ended")"
	resumes=$((resumes + 1))
	wait_count "$work/node.log" "resumed session with the proxy" $resumes 30 \
		|| fail "no resume within 30 s of fault $faults: $(tail -5 "$work/node.log")"
	stamp "resumed $(secs_since "$t1") s after the link came back"
}
fault cut || true
fault blackhole || true
fault cut || true
[ "$faults" -ge 2 ] || fail "the write ended after $faults faults; make it bigger"

wait_gone "$writer" 300 || fail "the write hangs 300 s after the faults"
rc=0
wait "$writer" || rc=$?
stamp "the write ended with status $rc after $(secs_since "$t_write") s, $faults faults during it"
[ "$rc" = 0 ] || fail "dd failed with status $rc: $(cat "$work/dd.err")"
grep -qi error "$work/dd.err" && fail "dd reported an error: $(cat "$work/dd.err")"
cat "$work/dd.err"

dd if="$dev" of="$work/back.bin" bs=1M skip=$((seek / 16)) count=$((count / 16)) iflag=direct status=none || fail "reading $dev back"
cmp "$work/patch.bin" "$work/back.bin" || fail "the data read back through vhci differ from what was written"
stamp "read back through $dev: the $((count * 64)) KiB match"
sync
cmp "$work/expected.img" "$work/disk.img" || fail "the gadget's backing file is not the image with the data written at $((seek * 64)) KiB"
stamp "the gadget's backing file is the image with the data at $((seek * 64)) KiB, and nothing else changed"

after=$(port_of "$busid")
[ "$after" = "$before" ] || fail "after the faults usbws port shows '$after', not '$before': $(ports_json)"
[ "$(grep -c 'exported 1d6b:0104' "$work/proxy.log")" = 1 ] || fail "the device was exported more than once"
resumed=$(grep -c 'resumed busid' "$work/proxy.log" || true)
[ "$resumed" -ge "$faults" ] || fail "the proxy logged $resumed resumes for $faults faults"
dmesg_since "$mark" >"$work/dmesg.txt"
if grep -E "usb $usbdev: USB disconnect|I/O error" "$work/dmesg.txt"; then
	fail "the kernel saw a disconnect or an I/O error during the write"
fi
echo "kernel log since the write began:"
sed 's/^/  /' "$work/dmesg.txt"
echo "node log:"
sed 's/^/  /' "$work/node.log"
echo "proxy log:"
sed 's/^/  /' "$work/proxy.log"
echo "relay log:"
sed 's/^/  /' "$work/relay.log"
echo "WRITEFAULT $faults faults during a $((count * 64)) KiB write; $resumed resumes on the proxy; same vhci port/busid ($before)"
echo "PASS: writes across cut and silent links land once, in place, and the device never left"
