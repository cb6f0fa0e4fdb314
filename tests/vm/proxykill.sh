# VM scenario (c): the proxy is killed (SIGKILL) in the middle of a read.
# The node must notice, release the stub and give the device back; the
# reader on the cloud side must get an error rather than hang; the vhci
# port must come free; a new proxy and node must work again.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all; gadget_remove disk 2>/dev/null || true' EXIT

make_disk 64
gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
orig=$(usb_driver "$busid")
start_proxy --vhci auto
start_node "$work/node.log" --busid "$busid"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci"

dd if="$dev" of=/dev/null bs=64k iflag=direct 2>"$work/dd.err" &
reader=$!
sleep 2
kill -0 "$reader" 2>/dev/null || fail "the read finished before the kill; make the disk bigger"
echo "killing the proxy (pid $PROXY_PID) mid-read"
kill -KILL "$PROXY_PID"
t0=$(date +%s)
for _ in $(seq 300); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NODE_PID" 2>/dev/null && fail "the node still runs 30 s after the proxy died"
rc=0
wait "$NODE_PID" || rc=$?
echo "the node exited with status $rc after $(( $(date +%s) - t0 )) s:"
tail -3 "$work/node.log"
[ "$rc" = 1 ] || fail "the node should report the lost proxy with status 1, not $rc"
grep -qE "proxy closed the connection|(reading from|writing to) wss:.* failed" "$work/node.log" || fail "the node did not say the proxy went away"
[ "$(usb_driver "$busid")" = "$orig" ] || fail "$busid is on '$(usb_driver "$busid")', not back on '$orig'"
echo "the node released the stub; $busid is on '$orig' again"

for _ in $(seq 300); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
kill -0 "$reader" 2>/dev/null && fail "the reader of $dev hangs 30 s after the proxy died"
wait "$reader" && fail "the read of $dev claims success although the device went away" || true
echo "the reader ended with: $(head -1 "$work/dd.err")"
for _ in $(seq 100); do [ "$(vhci_used)" = 0 ] && break; sleep 0.1; done
[ "$(vhci_used)" = 0 ] || fail "the vhci port is still in use"

pids=()
PROXY_LOG=$work/proxy2.log start_proxy --vhci auto
start_node "$work/node2.log" --busid "$busid"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci with the new proxy"
dd if="$dev" of="$work/head.bin" bs=1M count=1 iflag=direct status=none
cmp "$work/head.bin" <(head -c 1048576 "$work/disk.img") || fail "the new tunnel reads wrong data"
echo "PASS: SIGKILL of the proxy mid-read: node exits, stub released, reader errors out, port freed, export works again"
