# VM scenario: an outage longer than the proxy's resume time.
# A gadget's disk through usbws connect --busid -> tcprelay -> WSS ->
# usbws-proxy --vhci auto --resume-time 5.  The relay blackholes the link
# for 15 s: the proxy must let the device go after 5 s (vhci port freed,
# /dev/sdX gone), the node must release the device too; when the link is
# back the node must export afresh by itself, and the new disk must read
# back right.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'dump_logs $?; stop_all; gadget_remove disk 2>/dev/null || true' EXIT
outage=15

make_disk 8
gadget_via_relay --resume-time 5
pbusid=${before#* }
mark=$(dmesg_mark)

kill -USR1 "$RELAY_PID"
t_out=$(now_ms)
stamp "outage begins (blackhole)"
wait_for "$work/proxy.log" "node node-1: connection lost; keeping busid $pbusid and its importer for 5 s for it to resume" 30
stamp "the proxy noticed"
wait_for "$work/proxy.log" "node node-1 did not resume within 5 s; detaching busid $pbusid" 30
stamp "the proxy let the device go"
wait_no_block_dev 1d6b 0104 20 || fail "$dev is still there after the proxy let the device go"
stamp "the block device is gone"
for _ in $(seq 100); do [ -z "$(port_of "$busid")" ] && break; sleep 0.1; done
"$B/usbws/usbws" port --json | jq -e '.ports == []' >/dev/null || fail "usbws port still lists a port: $(ports_json)"
[ "$(vhci_used)" = 0 ] || fail "a vhci port is still in use: $(cat /sys/devices/platform/vhci_hcd.0/status)"
wait_for "$work/node.log" "no reconnect within 5 s: the proxy has let the session go; releasing $busid until it is back" 30
wait_for "$work/node.log" "gave $busid back to $orig" 10
[ "$(usb_driver "$busid")" = "$orig" ] || fail "$busid is on '$(usb_driver "$busid")', not back on '$orig'"
stamp "the node released the device: $busid is on '$orig' again"
# (on a slow host the checks above may take longer than the outage: it lasts until they are done)
while [ $(($(now_ms) - t_out)) -lt $((outage * 1000)) ]; do sleep 0.2; done
"$B/usbws/usbws" port --json | jq -e '.ports == []' >/dev/null || fail "usbws port lists a port at the end of the outage: $(ports_json)"
[ "$(usb_driver "$busid")" = "$orig" ] || fail "$busid went to '$(usb_driver "$busid")' while the proxy was unreachable"
kill -USR2 "$RELAY_PID"
t_end=$(now_ms)
out_s=$(secs_since "$t_out")
stamp "outage ends after $out_s s"

dev=$(wait_block_dev 1d6b 0104 60) || fail "the device did not come back within 60 s of the link"
back_s=$(secs_since "$t_end")
after=$(port_of "$busid")
stamp "back as $dev $back_s s after the link came back; vhci port and proxy busid: $after"
[ -n "$after" ] || fail "usbws port does not list $busid again: $(ports_json)"
[ "$(usb_driver "$busid")" = usbip-host ] || fail "$busid is on '$(usb_driver "$busid")', not usbip-host, once exported again"
[ "$(grep -c 'on the proxy, which knows this node as node-1' "$work/node.log")" = 2 ] \
	|| fail "the node did not export afresh exactly once: $(cat "$work/node.log")"
r=$(dd_rate "$dev") || fail "reading $dev"
read -r bytes secs mbps got <<<"$r"
echo "sha256 image $want"
echo "sha256 $dev $got ($bytes bytes in $secs s)"
[ "$got" = "$want" ] || fail "the disk read after the comeback differs from the image"
echo "kernel log since the outage began:"
dmesg_since "$mark" | sed 's/^/  /'
echo "node log:"
sed 's/^/  /' "$work/node.log"
echo "proxy log:"
sed 's/^/  /' "$work/proxy.log"
echo "EXPIRE blackhole $out_s s, resume time 5 s; back $back_s s after the link returned (was $before, now $after)"
echo "PASS: past the resume time the device left vhci and the node released it; it came back by itself and reads right"
