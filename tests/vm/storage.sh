# VM scenario (a): a real USB mass-storage device through usbws.
# A mass-storage gadget on dummy_hcd -> usbws connect --busid (usbip-host,
# socketpair) -> WSS with client certificates -> usbws-proxy (vhci_hcd,
# socketpair) -> usb-storage -> /dev/sdX.  The whole disk read through it
# has the backing file's sha256; a block written through /dev/sdX lands in
# the backing file; usbws status and usbws port show the tunnel.
set -euo pipefail
. "$USBWS_SRCDIR/tests/vm/lib.sh"
. "$USBWS_SRCDIR/tests/vm/common.sh"
trap 'stop_all; gadget_remove disk 2>/dev/null || true' EXIT

make_disk 16
gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
echo "gadget on dummy_hcd as $busid, driver '$(usb_driver "$busid")'"
"$B/usbws/usbws" list --local
"$B/usbws/usbws" list --local --json | jq -e --arg b "$busid" \
	'.devices[] | select(.busid == $b) | .vendor == "1d6b" and .product == "0104" and .state == "available"
	 and .driver == "usb" and .speed == "high"' >/dev/null || fail "usbws list --local does not show $busid right"

# as an operator runs it by hand: root only until the vhci files are open
start_proxy --vhci auto --user nobody
wait_for "$work/proxy.log" "running as nobody \(uid $(id -u nobody)\)" 10
[ "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$PROXY_PID/status")" = "$(id -u nobody | sed 's/.*/&&&&/')" ] \
	|| fail "the proxy is not running as nobody: $(grep ^Uid: "/proc/$PROXY_PID/status")"
# the node too: root binds the device and opens the sysfs files it will
# write (usbip_sockfd, the unbind and bind back to usb), then drops
start_node "$work/node.log" --busid "$busid" --user nobody
grep -qE "running as nobody \(uid $(id -u nobody)\)" "$work/node.log" || fail "the node did not say it dropped to nobody"
[ "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$NODE_PID/status")" = "$(id -u nobody | sed 's/.*/&&&&/')" ] \
	|| fail "the node is not running as nobody: $(grep ^Uid: "/proc/$NODE_PID/status")"
[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$NODE_PID/status")" = 0000000000000000 ] \
	|| fail "the node kept capabilities: $(grep ^CapEff: "/proc/$NODE_PID/status")"
[ "$(usb_driver "$busid")" = usbip-host ] || fail "$busid is not on usbip-host while exported"
[ "$(cat "/sys/bus/usb/devices/$busid/usbip_status")" = 2 ] || fail "the stub is not in use"
dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci"
echo "imported as $dev"

"$B/usbws/usbws" port
"$B/usbws/usbws" port --json >"$work/port.json"
jq -e --arg b "$busid" '.ports | length == 1 and .[0].node == "node-1" and .[0].node_busid == $b
	and .[0].hub == "hs" and .[0].device.vendor == "1d6b"' "$work/port.json" >/dev/null \
	|| fail "usbws port: $(cat "$work/port.json")"
port=$(jq '.ports[0].port' "$work/port.json")
grep -qE "^hs +0*$port +006 " /sys/devices/platform/vhci_hcd.0/status || fail "vhci port $port is not in use"

r=$(dd_rate "$dev") || fail "reading $dev"
read -r bytes secs mbps got <<<"$r"
echo "sha256 image $want"
echo "sha256 $dev $got"
[ "$got" = "$want" ] || fail "the disk read through usbws differs from the backing file"
echo "THROUGHPUT usbws read $mbps MB/s ($bytes bytes in $secs s)"

head -c 65536 /dev/urandom >"$work/patch.bin"
dd if="$work/patch.bin" of="$dev" bs=65536 seek=16 oflag=direct conv=fsync status=none
dd if="$work/disk.img" of="$work/landed.bin" bs=65536 skip=16 count=1 status=none
cmp "$work/patch.bin" "$work/landed.bin" || fail "a block written to $dev did not land in the backing file"
echo "a 64 KiB block written through $dev landed in the backing file"

"$B/usbws/usbws" status
"$B/usbws/usbws" status --json >"$work/status.json"
jq -e --arg b "$busid" '.tunnels | length == 1 and .[0].busid == $b and .[0].kind == "usbip-host"
	and .[0].state == "exported" and .[0].bytes_to_proxy > 16777216 and .[0].urbs > 100' \
	"$work/status.json" >/dev/null || fail "usbws status: $(cat "$work/status.json")"

# usbws detach on the cloud side: the port frees, the node is told and
# gives the device back
"$B/usbws/usbws" detach --port "$port" || fail "usbws detach --port $port failed"
for _ in $(seq 150); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NODE_PID" 2>/dev/null && fail "the node still runs 15 s after usbws detach"
grep -q "the proxy refused: detached on the proxy with usbws detach (detached)" "$work/node.log" \
	|| fail "the node did not log why: $(tail -3 "$work/node.log")"
grep -qE "^hs +0*$port +004 " /sys/devices/platform/vhci_hcd.0/status || fail "vhci port $port is not free after detach"
"$B/usbws/usbws" port --json | jq -e '.ports == []' >/dev/null || fail "usbws port still lists the device"
[ "$(usb_driver "$busid")" = usb ] || fail "$busid did not go back to usb after detach"
echo "usbws detach --port $port: port free, node told, $busid back on usb"
echo "PASS: a gadget's disk through usbip-host -> WSS -> vhci_hcd reads back intact, writes land, detach works"
