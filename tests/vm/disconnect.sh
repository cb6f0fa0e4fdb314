# VM scenario (b): usbws disconnect.  A gadget's disk exported with
# usbws connect --busid and imported through vhci_hcd; `usbws disconnect`
# must free the vhci port, give the device back to its original driver,
# end the connect cleanly, and leave the device ready to export again.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all; gadget_remove disk 2>/dev/null || true' EXIT

make_disk 8
gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
orig=$(usb_driver "$busid")
echo "gadget on dummy_hcd as $busid, driver '$orig'"
start_proxy --vhci auto
start_node "$work/node.log" --busid "$busid"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci"
dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none || fail "cannot read $dev"
[ "$(vhci_used)" = 1 ] || fail "expected one vhci port in use, found $(vhci_used)"
echo "imported as $dev; disconnecting"

"$B/usbws/usbws" disconnect --busid "$busid" || fail "usbws disconnect failed"
wait "$NODE_PID" || fail "usbws connect exited with status $? after disconnect: $(cat "$work/node.log")"
grep -q "disconnect requested through the control socket" "$work/node.log" || fail "the node did not log the request"
for _ in $(seq 100); do [ "$(vhci_used)" = 0 ] && break; sleep 0.1; done
[ "$(vhci_used)" = 0 ] || fail "the vhci port is still in use after disconnect"
"$B/usbws/usbws" port --json | jq -e '.ports == []' >/dev/null || fail "usbws port still lists the device"
[ -z "$(block_devs_under vhci_hcd 1d6b 0104)" ] || fail "the vhci disk is still there"
[ "$(usb_driver "$busid")" = "$orig" ] || fail "$busid is on '$(usb_driver "$busid")', not back on '$orig'"
[ ! -e "$work/run/connect-$busid.sock" ] || fail "the control socket was left behind"
"$B/usbws/usbws" status | grep -qx "no tunnels running" || fail "usbws status still shows a tunnel"
echo "after disconnect: vhci port free, $busid back on '$orig', no tunnel left"

# and it exports again, whole
start_node "$work/node2.log" --busid "$busid"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci on the second export"
r=$(dd_rate "$dev") || fail "reading $dev"
read -r _ _ _ got <<<"$r"
[ "$got" = "$want" ] || fail "the second export reads back different data"
echo "exported again: whole-disk sha256 matches"
"$B/usbws/usbws" disconnect --busid "$busid" >/dev/null || fail "second disconnect failed"
wait "$NODE_PID" || fail "second connect exited with status $?"
[ "$(usb_driver "$busid")" = "$orig" ] || fail "$busid did not go back to '$orig' the second time"
echo "PASS: usbws disconnect frees the vhci port, restores '$orig', and the device exports again"
