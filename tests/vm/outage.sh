# VM scenario: a 10 s network outage in the middle of a whole-disk read,
# resumed on the proxy's other service thread.
# A gadget's disk on dummy_hcd -> usbws connect --busid -> tcprelay -> WSS
# -> usbws-proxy --vhci auto -> /dev/sdX.  The relay blackholes the link
# (silence, nothing closed) mid-read for 10 s, then ends the outage by
# resetting the old connection.  Both ends must notice the dead link by
# keepalive, keep the device (same vhci port, same busid, no USB
# disconnect), resume the session, and the read must end whole and right.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'dump_logs $?; stop_all; gadget_remove disk 2>/dev/null || true' EXIT
outage=10

make_disk 64
# two service threads: the node's first connection and the vhci socket go
# to thread 0, the resuming one to thread 1 (the least loaded), which
# takes the tunnel and the socket vhci_hcd holds over in the middle of
# the read
gadget_via_relay --threads 2

mark=$(dmesg_mark)
t_read=$(now_ms)
dd if="$dev" of="$work/read.img" bs=64k iflag=direct 2>"$work/dd.err" &
reader=$!
sleep 4
kill -0 "$reader" 2>/dev/null || fail "the read finished before the outage; make the disk bigger"
# counted, not just matched: a loaded host can make a keepalive drop before
lost0=$(grep -c "lost the proxy" "$work/node.log" || true)
plost0=$(grep -c "connection lost; keeping busid" "$work/proxy.log" || true)
resumed0=$(grep -c "resumed session with the proxy" "$work/node.log" || true)
kill -USR1 "$RELAY_PID"
t_out=$(now_ms)
stamp "outage begins (blackhole) after $(stat -c %s "$work/read.img") bytes read"
wait_count "$work/node.log" "lost the proxy" $((lost0 + 1)) 30 || fail "the node did not notice the outage in 30 s"
grep "lost the proxy" "$work/node.log" | tail -1 \
	| grep -qE "lost the proxy \(nothing heard for 3 s: keepalive timeout\); the device stays exported, resuming within 60 s" \
	|| fail "the node did not say it keeps the device: $(tail -3 "$work/node.log")"
stamp "the node noticed: $(grep 'lost the proxy' "$work/node.log" | tail -1)"
wait_count "$work/proxy.log" "node node-1: connection lost; keeping busid [^ ]+ and its importer for 60 s" $((plost0 + 1)) 30 \
	|| fail "the proxy did not notice the outage in 30 s: $(tail -3 "$work/proxy.log")"
stamp "the proxy noticed: $(grep 'connection lost' "$work/proxy.log" | tail -1)"
during=$(port_of "$busid")
[ "$during" = "$before" ] || fail "while the link is down usbws port shows '$during', not '$before': $(ports_json)"
kill -0 "$reader" 2>/dev/null || fail "the read ended during the outage: $(cat "$work/dd.err")"
[ -b "$dev" ] || fail "$dev is gone during the outage"
while [ $(($(now_ms) - t_out)) -lt $((outage * 1000)) ]; do sleep 0.2; done
during=$(port_of "$busid")
[ "$during" = "$before" ] || fail "at the end of the outage usbws port shows '$during', not '$before': $(ports_json)"
kill -0 "$reader" 2>/dev/null || fail "the read ended during the outage: $(cat "$work/dd.err")"
kill -USR2 "$RELAY_PID"
t_end=$(now_ms)
out_s=$(secs_since "$t_out")
stamp "outage ends after $out_s s; the read still waits, port unchanged ($during)"
wait_count "$work/node.log" "resumed session with the proxy" $((resumed0 + 1)) 30 || fail "the node did not resume within 30 s"
resume_s=$(log_secs_after "$t_end" "$work/node.log" "resumed session with the proxy")
stamp "the node resumed $resume_s s after the link came back: $(grep 'resumed session' "$work/node.log" | tail -1)"

wait_gone "$reader" 300 || fail "the read hangs 300 s after the outage ($(stat -c %s "$work/read.img") bytes read)"
rc=0
wait "$reader" || rc=$?
stamp "the read ended with status $rc after $(secs_since "$t_read") s"
[ "$rc" = 0 ] || fail "dd failed with status $rc: $(cat "$work/dd.err")"
grep -qi error "$work/dd.err" && fail "dd reported an error: $(cat "$work/dd.err")"
got=$(sha256sum <"$work/read.img" | cut -d' ' -f1)
echo "sha256 image $want"
echo "sha256 read  $got ($(stat -c %s "$work/read.img") bytes)"
[ "$got" = "$want" ] || fail "the disk read across the outage differs from the image"

after=$(port_of "$busid")
[ "$after" = "$before" ] || fail "after the outage usbws port shows '$after', not '$before': $(ports_json)"
pbusid=${before#* }
grep -qE "node node-1 resumed busid $pbusid after [0-9]+ s" "$work/proxy.log" \
	|| fail "the proxy did not log resuming $pbusid: $(tail -5 "$work/proxy.log")"
stamp "the proxy: $(grep 'resumed busid' "$work/proxy.log" | tail -1)"
grep -qE "node node-1: busid $pbusid goes to service thread 1, where it resumes, its importer with it" \
	"$work/proxy.log" || fail "the resume did not move the tunnel and its vhci socket to thread 1: $(tail -5 "$work/proxy.log")"
[ "$(grep -c 'exported 1d6b:0104' "$work/proxy.log")" = 1 ] || fail "the device was exported more than once"
dmesg_since "$mark" >"$work/dmesg.txt"
if grep -E "usb $usbdev: USB disconnect|I/O error" "$work/dmesg.txt"; then
	fail "the kernel saw a disconnect or an I/O error across the outage"
fi
echo "kernel log since the read began:"
sed 's/^/  /' "$work/dmesg.txt"
echo "node log:"
sed 's/^/  /' "$work/node.log"
echo "proxy log:"
sed 's/^/  /' "$work/proxy.log"
echo "OUTAGE blackhole $out_s s; resumed $resume_s s after it ended; same vhci port/busid ($before)"
echo "PASS: a ${outage} s outage mid-read: the device stayed on vhci port ${before% *}, the session resumed, the read is whole"
