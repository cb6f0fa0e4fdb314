# VM scenario: the stock usbip baseline.  A mass-storage gadget on
# dummy_hcd -> Debian's usbipd / 'usbip bind' (usbip-host) -> TCP over
# loopback -> 'usbip attach' -> vhci_hcd -> usb-storage -> /dev/sdX.
# The whole disk read through vhci must have the image's sha256 (and its
# throughput is reported as the reference for usbws); a block written
# through /dev/sdX must land in the image file; detach and unbind must
# give the device back to the generic "usb" driver.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
# the gadget's backing file lives on tmpfs so that 9p does not weigh on the rate
work=/run/baseline
mkdir -p "$work"
pids=()
busid=
cleanup() {
	[ -z "$busid" ] || usbip unbind -b "$busid" >/dev/null 2>&1 || true
	kill "${pids[@]}" 2>/dev/null || true
	gadget_remove disk 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; dmesg | tail -20; exit 1; }

mib=16
head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/disk.img"
want=$(sha256sum <"$work/disk.img" | cut -d' ' -f1)

gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
driver=$(usb_driver "$busid")
echo "gadget 1d6b:0104 on dummy_hcd as $busid, driver '$driver'"
[ "$driver" = usb ] || fail "$busid is bound to '$driver', not usb"
# usb-storage claims the gadget on the dummy side too until usbip bind
# takes it; note whether that disk appears (it is never wait_block_dev's)
local_dev=
for _ in $(seq 100); do
	local_dev=$(block_devs_under dummy_hcd 1d6b 0104 | head -1)
	[ -n "$local_dev" ] && break
	sleep 0.1
done
echo "dummy-side disk: ${local_dev:-none within 10 s}"

usbipd >"$work/usbipd.log" 2>&1 &
pids+=($!)
usbip bind -b "$busid" || fail "usbip bind -b $busid"
[ "$(usb_driver "$busid")" = usbip-host ] || fail "$busid is not on usbip-host after bind"
up=
for _ in $(seq 100); do
	usbip list -r 127.0.0.1 2>/dev/null | grep -q "^ *$busid:" && { up=1; break; }
	sleep 0.1
done
[ -n "$up" ] || fail "usbipd does not list $busid"
usbip attach -r 127.0.0.1 -b "$busid" || fail "usbip attach -r 127.0.0.1 -b $busid"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no vhci disk after usbip attach"
case $(readlink -f "/sys/block/${dev#/dev/}/device") in */vhci_hcd.*) ;; *) fail "$dev is not under vhci_hcd" ;; esac
echo "attached $busid as $dev ($(cat "/sys/block/${dev#/dev/}/size") sectors)"
usbip port

r=$(dd_rate "$dev") || fail "reading $dev"
read -r bytes secs mbps got <<<"$r"
echo "sha256 image   $want"
echo "sha256 $dev $got"
[ "$got" = "$want" ] || fail "the disk read through vhci differs from the image"
[ "$bytes" -eq $((mib * 1024 * 1024)) ] || fail "read $bytes bytes, the image has $((mib * 1024 * 1024))"
echo "PASS: usbip-tcp read of the whole disk matches the image's sha256"
echo "THROUGHPUT usbip-tcp read $mbps MB/s ($bytes bytes in $secs s)"

head -c 65536 /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$dev" bs=65536 seek=16 oflag=direct conv=fsync status=none || fail "writing to $dev"
dd if="$work/disk.img" of="$work/landed.bin" bs=65536 skip=16 count=1 status=none
cmp "$work/patch.bin" "$work/landed.bin" || fail "a block written to $dev at 1 MiB did not land in the image"
echo "PASS: a 64 KiB block written through $dev at 1 MiB landed in the image file"

port=$(usbip port | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p' | head -1)
[ -n "$port" ] || fail "usbip port shows no port in use"
usbip detach -p "$((10#$port))" || fail "usbip detach -p $port"
for _ in $(seq 100); do [ -e "/sys/block/${dev#/dev/}" ] || break; sleep 0.1; done
[ ! -e "/sys/block/${dev#/dev/}" ] || fail "$dev still there after detach"
usbip unbind -b "$busid" || fail "usbip unbind -b $busid"
b=$busid
busid=
driver=
for _ in $(seq 100); do driver=$(usb_driver "$b"); [ "$driver" = usb ] && break; sleep 0.1; done
[ "$driver" = usb ] || fail "$b is bound to '$driver' after unbind, not usb"
echo "PASS: detach and unbind gave $b back to the usb driver"
echo "PASS: usbip baseline"
