# VM scenario (f): the stock usbip baseline, then usbws on the same
# gadget in the same boot.  A mass-storage gadget on dummy_hcd ->
# Debian's usbipd / 'usbip bind' (usbip-host) -> TCP over loopback ->
# 'usbip attach' -> vhci_hcd -> usb-storage -> /dev/sdX.  The whole disk
# read through vhci must have the image's sha256 (its throughput is the
# reference for usbws); a block written through /dev/sdX must land in the
# image file; detach and unbind must give the device back to the generic
# "usb" driver.  Then the same gadget goes through usbws connect --busid
# -> WSS -> usbws-proxy (vhci auto) -> /dev/sdX, whose whole-disk read
# must have the image's sha256 too.  Each path is read $runs times and the
# median rate is reported, with the ratio usbws/usbip-tcp; slowness never
# fails the scenario, wrong data does.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
busid=
cleanup() {
	[ -z "$busid" ] || usbip unbind -b "$busid" >/dev/null 2>&1 || true
	stop_all
	gadget_remove disk 2>/dev/null || true
}
trap cleanup EXIT

mib=16
runs=3
# median N...: the middle one of an odd number of rates
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# read_runs LABEL DEV: reads DEV whole $runs times, fails on a wrong
# sha256 or size, prints one line per run and sets $med to the median MB/s
read_runs() {
	local label=$1 dev=$2 i r bytes secs mbps got rates=()
	for i in $(seq "$runs"); do
		r=$(dd_rate "$dev") || fail "reading $dev ($label, run $i)"
		read -r bytes secs mbps got <<<"$r"
		[ "$got" = "$want" ] || fail "$label run $i: sha256 of $dev is $got, the image's is $want"
		[ "$bytes" -eq $((mib * 1024 * 1024)) ] || fail "$label run $i: read $bytes bytes, the image has $((mib * 1024 * 1024))"
		echo "$label run $i: $mbps MB/s ($bytes bytes in $secs s), sha256 matches"
		rates+=("$mbps")
	done
	med=$(median "${rates[@]}")
	runs_list=${rates[*]}
}

# the gadget's backing file lives on tmpfs so that 9p does not weigh on the rate
make_disk "$mib"
echo "sha256 image $want"

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

# --- stock usbip over TCP ---
usbipd >"$work/usbipd.log" 2>&1 &
USBIPD_PID=$!
pids+=($USBIPD_PID)
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

read_runs usbip-tcp "$dev"
tcp=$med
tcp_runs=$runs_list
echo "PASS: usbip-tcp reads of the whole disk match the image's sha256"
echo "THROUGHPUT usbip-tcp read $tcp MB/s (median of $runs reads of $mib MiB: $tcp_runs)"

head -c 65536 /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$dev" bs=65536 seek=16 oflag=direct conv=fsync status=none || fail "writing to $dev"
dd if="$work/disk.img" of="$work/landed.bin" bs=65536 skip=16 count=1 status=none
cmp "$work/patch.bin" "$work/landed.bin" || fail "a block written to $dev at 1 MiB did not land in the image"
echo "PASS: a 64 KiB block written through $dev at 1 MiB landed in the image file"
# the image changed: what both paths must read from now on
want=$(sha256sum <"$work/disk.img" | cut -d' ' -f1)

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
kill "$USBIPD_PID" 2>/dev/null || true
wait "$USBIPD_PID" 2>/dev/null || true

# --- usbws on the same gadget ---
start_proxy --vhci auto
start_node "$work/node.log" --busid "$b"
[ "$(usb_driver "$b")" = usbip-host ] || fail "$b is not on usbip-host while exported by usbws"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no vhci disk through usbws: $(cat "$work/node.log")"
echo "usbws imported $b as $dev ($(cat "/sys/block/${dev#/dev/}/size") sectors)"

read_runs usbws "$dev"
ws=$med
ws_runs=$runs_list
echo "PASS: usbws reads of the whole disk match the image's sha256"
echo "THROUGHPUT usbws read $ws MB/s (median of $runs reads of $mib MiB: $ws_runs)"
echo "RATIO usbws/usbip-tcp read $(awk -v a="$ws" -v b="$tcp" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"

"$B/usbws/usbws" disconnect --busid "$b" >/dev/null || fail "usbws disconnect --busid $b"
wait "$NODE_PID" || fail "usbws connect exited with status $? after disconnect: $(cat "$work/node.log")"
for _ in $(seq 100); do driver=$(usb_driver "$b"); [ "$driver" = usb ] && break; sleep 0.1; done
[ "$driver" = usb ] || fail "$b is bound to '$driver' after usbws disconnect, not usb"
echo "PASS: usbws on the same gadget reads back intact; disconnect gave $b back to usb"
