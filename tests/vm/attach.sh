# VM scenario: a stock client imports a tunnelled device into the kernel.
# usbws connect (virtual storage) -> WSS with client certificates ->
# usbws-proxy --vhci none --usbip-listen -> Debian's 'usbip attach' -> vhci_hcd ->
# usb-storage -> /dev/sdX.  The whole disk read through the kernel must
# have the image's sha256; a block written through /dev/sdX must land in
# the image file.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
B=$USBWS_BUILDDIR
work=$TMPDIR/attach
mkdir -p "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

"$USBWS_SRCDIR/tests/pki.sh" "$work/pki" >/dev/null
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/disk.img"
want=$(sha256sum <"$work/disk.img" | cut -d' ' -f1)

"$B/proxy/usbws-proxy" --listen 127.0.0.1:0 --usbip-listen 127.0.0.1:3240 --vhci none --cert "$work/pki/server.pem" \
	--key "$work/pki/server.key" --ca "$work/pki/ca.pem" 2>"$work/proxy.log" &
pids+=($!)
wait_for "$work/proxy.log" "re-exporting devices" 20
wss=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$work/proxy.log")
"$B/usbws/usbws" connect --url "wss://localhost:$wss/usbip" --cert "$work/pki/node.pem" \
	--key "$work/pki/node.key" --ca "$work/pki/ca.pem" --virtual "storage:$work/disk.img" 2>"$work/node.log" &
pids+=($!)
wait_for "$work/node.log" "as busid" 30
busid=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$work/node.log")

usbip list -r 127.0.0.1 | tee "$work/list"
ids=$(sed -n "s/^ *$busid: .*(\([0-9a-f]\{4\}\):\([0-9a-f]\{4\}\))\$/\1 \2/p" "$work/list")
[ -n "$ids" ] || { echo "FAIL: usbip list -r does not show $busid"; exit 1; }
usbip attach -r 127.0.0.1 -b "$busid"
read -r vid pid <<<"$ids"
dev=$(wait_block_dev "$vid" "$pid" 60) || { echo "FAIL: no /dev/sdX appeared after usbip attach"; dmesg | tail -30; exit 1; }
echo "attached $busid as $dev ($(cat "/sys/block/${dev#/dev/}/size") sectors)"
usbip port

got=$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)
echo "sha256 image   $want"
echo "sha256 $dev $got"
[ "$got" = "$want" ] || { echo "FAIL: the disk read through vhci differs from the image"; exit 1; }

head -c 65536 /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$dev" bs=65536 seek=16 oflag=direct conv=fsync status=none
dd if="$work/disk.img" of="$work/landed.bin" bs=65536 skip=16 count=1 status=none
cmp "$work/patch.bin" "$work/landed.bin" || { echo "FAIL: a block written to $dev did not land in the image"; exit 1; }
echo "a 64 KiB block written through $dev landed in the image file"

usbip detach -p 0
echo "PASS: usbip attach of a tunnelled device: read sha256 matches, write lands"
