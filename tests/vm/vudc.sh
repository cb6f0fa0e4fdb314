# VM scenario (d): vUDC mode end to end.  A mass-storage gadget whose UDC
# is usbip-vudc.0 (no dummy_hcd, no usbip-host) -> usbws connect --device
# usbip-vudc.0 (usbip_sockfd, socketpair) -> WSS with client certificates
# -> usbws-proxy (vhci_hcd, socketpair) -> usb-storage -> /dev/sdX.  The
# whole disk read through it has the backing file's sha256; a block
# written through /dev/sdX lands in the backing file; usbws status shows a
# "usbip-vudc" tunnel; SIGTERM to the node frees the vhci port and leaves
# the vUDC available again (usbip_status 1).
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all; gadget_remove disk 2>/dev/null || true' EXIT

udc=usbip-vudc.0
vudc=/sys/devices/platform/$udc
[ -d "$vudc" ] || fail "no $vudc: is usbip-vudc loaded?"

make_disk 16
gadget_storage disk "$work/disk.img" "$udc" || fail "cannot bind the gadget to $udc"
echo "gadget 1d6b:0104 bound to $udc, usbip_status $(cat "$vudc/usbip_status")"
[ "$(cat "$vudc/usbip_status")" = 1 ] || fail "$udc is not available before export"

start_proxy --vhci auto
start_node "$work/node.log" --device "$udc"
cat "$work/node.log"
[ "$(cat "$vudc/usbip_status")" = 2 ] || fail "$udc usbip_status is $(cat "$vudc/usbip_status") while exported, not 2"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci: $(cat "$work/node.log")"
echo "imported as $dev ($(cat "/sys/block/${dev#/dev/}/size") sectors)"

"$B/usbws/usbws" port
"$B/usbws/usbws" port --json >"$work/port.json"
jq -e '.ports | length == 1 and .[0].device.vendor == "1d6b" and .[0].device.product == "0104"' \
	"$work/port.json" >/dev/null || fail "usbws port: $(cat "$work/port.json")"

r=$(dd_rate "$dev") || fail "reading $dev"
read -r bytes secs mbps got <<<"$r"
echo "sha256 image $want"
echo "sha256 $dev $got"
[ "$got" = "$want" ] || fail "the disk read through vudc/usbws differs from the backing file"
[ "$bytes" -eq $((16 * 1024 * 1024)) ] || fail "read $bytes bytes, the image has $((16 * 1024 * 1024))"
echo "PASS: whole-disk sha256 through usbip-vudc -> WSS -> vhci_hcd matches the image"
echo "THROUGHPUT usbws-vudc read $mbps MB/s ($bytes bytes in $secs s)"

head -c 65536 /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$dev" bs=65536 seek=16 oflag=direct conv=fsync status=none || fail "writing to $dev"
dd if="$work/disk.img" of="$work/landed.bin" bs=65536 skip=16 count=1 status=none
cmp "$work/patch.bin" "$work/landed.bin" || fail "a block written to $dev did not land in the backing file"
echo "PASS: a 64 KiB block written through $dev at 1 MiB landed in the backing file"

"$B/usbws/usbws" status
"$B/usbws/usbws" status --json >"$work/status.json"
jq -e --arg u "$udc" '.tunnels | length == 1 and .[0].kind == "usbip-vudc" and .[0].busid == $u
	and .[0].state == "exported"' "$work/status.json" >/dev/null || fail "usbws status: $(cat "$work/status.json")"
echo "PASS: usbws status shows one exported usbip-vudc tunnel"

kill -TERM "$NODE_PID"
rc=0
wait "$NODE_PID" || rc=$?
echo "usbws connect exited with status $rc after SIGTERM"
freed=
for _ in $(seq 100); do
	"$B/usbws/usbws" port --json | jq -e '.ports == []' >/dev/null && { freed=1; break; }
	sleep 0.1
done
[ -n "$freed" ] || fail "the vhci port is still in use 10 s after SIGTERM: $("$B/usbws/usbws" port --json)"
echo "PASS: the vhci port is free after SIGTERM"
st=
for _ in $(seq 100); do st=$(cat "$vudc/usbip_status"); [ "$st" = 1 ] && break; sleep 0.1; done
[ "$st" = 1 ] || fail "$udc usbip_status is $st 10 s after SIGTERM, not 1: $(cat "$work/node.log")"
echo "PASS: $udc usbip_status back to 1"
echo "PASS: vUDC gadget through usbws connect --device reads back intact, writes land, frees on SIGTERM"
