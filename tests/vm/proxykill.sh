# VM scenario (c): the proxy is killed (SIGKILL) in the middle of a read
# and started again on the same port.  The reader on the cloud side must
# get an error rather than hang and the vhci port must come free; the node
# keeps running, retries with backoff (--backoff-max 3), finds the new
# proxy has no session for it, exports afresh, and the disk is back on
# vhci_hcd within seconds of the restart, reading back right.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'dump_logs $?; stop_all; gadget_remove disk 2>/dev/null || true' EXIT

make_disk 64
gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
start_proxy --vhci auto "${FAST[@]}"
port=$WSS_PORT
start_node "$work/node.log" --busid "$busid" "${FAST[@]}" --connect-timeout 2 --backoff-max 3
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci"
stamp "imported as $dev; vhci port and proxy busid: $(port_of "$busid")"

dd if="$dev" of=/dev/null bs=64k iflag=direct 2>"$work/dd.err" &
reader=$!
sleep 3
kill -0 "$reader" 2>/dev/null || fail "the read finished before the kill; make the disk bigger"
lost0=$(grep -c "lost the proxy" "$work/node.log" || true)
kill -KILL "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
t_kill=$(now_ms)
stamp "killed the proxy (pid $PROXY_PID) mid-read"
wait_count "$work/node.log" "lost the proxy" $((lost0 + 1)) 15 || fail "the node did not notice in 15 s"
stamp "the node noticed: $(grep 'lost the proxy' "$work/node.log" | tail -1)"

wait_gone "$reader" 30 || fail "the reader of $dev hangs 30 s after the proxy died"
wait "$reader" && fail "the read of $dev claims success although the device went away" || true
stamp "the reader ended with: $(grep -m1 -i 'error' "$work/dd.err" || head -1 "$work/dd.err")"
wait_no_block_dev 1d6b 0104 30 || fail "$dev is still there 30 s after the proxy died"
for _ in $(seq 100); do [ "$(vhci_used)" = 0 ] && break; sleep 0.1; done
[ "$(vhci_used)" = 0 ] || fail "the vhci port is still in use"
stamp "the block device is gone and the vhci port free"

# a few attempts fail while the proxy is down
wait_for "$work/node.log" "attempt [0-9]+ failed; next in [0-9.]+ s" 20
while [ $(($(now_ms) - t_kill)) -lt 8000 ]; do sleep 0.2; done
kill -0 "$NODE_PID" 2>/dev/null || fail "the node exited without its proxy: $(tail -5 "$work/node.log")"
stamp "the node still runs after $(grep -c 'attempt [0-9]* failed' "$work/node.log") failed attempts; restarting the proxy on port $port"

t_restart=$(now_ms)
PROXY_LOG=$work/proxy2.log start_proxy --vhci auto "${FAST[@]}" --listen "127.0.0.1:$port"
[ "$WSS_PORT" = "$port" ] || fail "the new proxy listens on $WSS_PORT, not $port"
stamp "the new proxy listens ($(secs_since "$t_restart") s)"
dev=$(wait_block_dev 1d6b 0104 30) || fail "the disk is not back on vhci 30 s after the proxy restarted: $(tail -5 "$work/node.log")"
back_s=$(secs_since "$t_restart")
stamp "back as $dev $back_s s after the restart; vhci port and proxy busid: $(port_of "$busid")"
grep -q "the proxy has no session to resume" "$work/node.log" || fail "the node did not try to resume first"
grep -qE "attempt [0-9]+ failed; next in [0-3]\.[0-9] s" "$work/node.log" || fail "no retry within the 3 s backoff cap"
grep -qE "attempt [0-9]+ failed; next in ([4-9]|[1-9][0-9]+)\.[0-9] s" "$work/node.log" && fail "a retry waited past --backoff-max 3"
[ "$(grep -c 'on the proxy, which knows this node as node-1' "$work/node.log")" = 2 ] || fail "the node did not export afresh once"

r=$(dd_rate "$dev") || fail "reading $dev"
read -r bytes secs mbps got <<<"$r"
echo "sha256 image $want"
echo "sha256 $dev $got ($bytes bytes in $secs s, $mbps MB/s)"
[ "$got" = "$want" ] || fail "the disk read through the new proxy differs from the image"
echo "node log:"
sed 's/^/  /' "$work/node.log"
echo "first proxy log:"
sed 's/^/  /' "$work/proxy.log"
echo "new proxy log:"
sed 's/^/  /' "$work/proxy2.log"
echo "PROXYKILL back on vhci $back_s s after the proxy restarted (backoff cap 3 s)"
echo "PASS: SIGKILL of the proxy mid-read: reader errors out, port freed, node keeps running and is back on the restarted proxy"
