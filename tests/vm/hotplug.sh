# VM scenario (d) of the resilience issue: plug and unplug.  usbws connect
# --match VID:PID runs before the device exists; binding a mass-storage
# gadget to dummy_udc.0 (the configfs UDC write, the plug) makes it appear
# on the cloud side through vhci_hcd with its data; unbinding it (the
# unplug) makes it leave there and frees the vhci port; a second plug
# brings it back.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all; gadget_remove disk 2>/dev/null || true' EXIT

make_disk 8
gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
dummy_busid >/dev/null || fail "the gadget did not enumerate on dummy_hcd"
gadget_unplug disk
start_proxy --vhci auto
"$B/usbws/usbws" connect --url "$WSS_URL" --cert "$work/pki/node.pem" --key "$work/pki/node.key" \
	--ca "$work/pki/ca.pem" --match 1d6b:0104 2>>"$work/node.log" &
NODE_PID=$!
pids+=($NODE_PID)
wait_for "$work/node.log" "no USB device to export yet" 20 || fail "the supervisor did not start"
[ "$(vhci_used)" = 0 ] || fail "a vhci port is in use before anything was plugged in"

for round in 1 2; do
	t0=$(now_ms)
	gadget_plug disk dummy_udc.0 || fail "cannot plug the gadget in"
	dev=$(wait_block_dev 1d6b 0104 60) || fail "round $round: the plugged-in disk did not appear through vhci_hcd"
	echo "round $round: plugged in; $dev on the cloud side after $(secs_since "$t0") s"
	got=$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "round $round: $dev reads $got, the image is $want"
	[ "$(vhci_used)" = 1 ] || fail "round $round: $(vhci_used) vhci ports in use, not 1"
	t0=$(now_ms)
	gadget_unplug disk
	wait_no_block_dev 1d6b 0104 60 || fail "round $round: the unplugged disk is still on the cloud side"
	for _ in $(seq 300); do [ "$(vhci_used)" = 0 ] && break; sleep 0.1; done
	[ "$(vhci_used)" = 0 ] || fail "round $round: the vhci port was not freed after the unplug"
	echo "round $round: unplugged; gone from the cloud side after $(secs_since "$t0") s"
done
grep -q "plugged in; exporting it" "$work/node.log" || fail "the node did not log the plug"
# the export's child may see its stub close before the supervisor's rescan
grep -qE "device [0-9-]+ left" "$work/node.log" || fail "the node did not log the unplug"
[ "$(grep -c "export of .* started" "$work/node.log")" -ge 2 ] || fail "fewer exports than plugs"
kill -0 "$NODE_PID" || fail "the supervisor exited"
echo "PASS: plug and unplug through configfs: the device appears on and leaves the cloud side, twice"
