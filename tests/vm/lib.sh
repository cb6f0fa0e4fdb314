# Helpers for VM scenarios (tests/vm/run), sourced with
#   . "$USBWS_SRCDIR/tests/vm/lib.sh"
# They run inside the VM, as root, with configfs at /sys/kernel/config and
# dummy_hcd, usbip-host, vhci-hcd, usb-storage and usb_f_mass_storage loaded.
# Failures print a line starting with "FAIL:"; wait_for exits the scenario,
# the others return non-zero so that 'set -e' or '|| ...' decide.

# wait_for FILE REGEX SECONDS: waits until a line of FILE matches the
# extended REGEX; on timeout prints FILE and exits 1.
wait_for() {
	local _
	for _ in $(seq $((${3:-10} * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "FAIL: timed out waiting for /$2/ in $1"
	cat "$1"
	exit 1
}

# gadget_storage NAME IMAGE UDC: makes a mass-storage gadget (1d6b:0104,
# one configuration, one non-removable read-write LUN backed by IMAGE) at
# /sys/kernel/config/usb_gadget/NAME and binds it to UDC (dummy_udc.0,
# usbip-vudc.0, ...).  UDC may be empty to leave the gadget unbound.
gadget_storage() {
	local name=$1 image=$2 udc=${3-} g=/sys/kernel/config/usb_gadget/$1
	[ -f "$image" ] || { echo "FAIL: gadget_storage: no image $image"; return 1; }
	mkdir "$g" || { echo "FAIL: gadget_storage: cannot make $g"; return 1; }
	echo 0x1d6b >"$g/idVendor"
	echo 0x0104 >"$g/idProduct"
	echo 0x0100 >"$g/bcdDevice"
	echo 0x0200 >"$g/bcdUSB"
	mkdir "$g/strings/0x409"
	echo usbws >"$g/strings/0x409/manufacturer"
	echo "usbws test disk" >"$g/strings/0x409/product"
	printf '%s' "$name" | sha256sum | cut -c1-12 >"$g/strings/0x409/serialnumber"
	mkdir "$g/configs/c.1"
	mkdir "$g/configs/c.1/strings/0x409"
	echo "mass storage" >"$g/configs/c.1/strings/0x409/configuration"
	echo 100 >"$g/configs/c.1/MaxPower"
	mkdir "$g/functions/mass_storage.0"
	# ro and removable first: the kernel refuses to change ro once a file is open
	echo 0 >"$g/functions/mass_storage.0/lun.0/removable"
	echo 0 >"$g/functions/mass_storage.0/lun.0/ro"
	echo "$image" >"$g/functions/mass_storage.0/lun.0/file"
	ln -s "$g/functions/mass_storage.0" "$g/configs/c.1/"
	[ -z "$udc" ] || gadget_plug "$name" "$udc"
}

# gadget_plug NAME UDC: binds the gadget to UDC (it connects to that bus).
gadget_plug() {
	echo "$2" >"/sys/kernel/config/usb_gadget/$1/UDC" || { echo "FAIL: cannot bind gadget $1 to $2"; return 1; }
}

# gadget_unplug NAME: unbinds the gadget from its UDC (it disconnects).
gadget_unplug() {
	local g=/sys/kernel/config/usb_gadget/$1
	[ -z "$(cat "$g/UDC" 2>/dev/null)" ] || echo "" >"$g/UDC"
}

# gadget_remove NAME: unbinds and takes the gadget's configfs tree down,
# the reverse of how gadget_storage built it.  Quiet if it is not there.
gadget_remove() {
	local g=/sys/kernel/config/usb_gadget/$1 c f
	[ -d "$g" ] || return 0
	gadget_unplug "$1"
	for c in "$g"/configs/*/; do
		[ -d "$c" ] || continue
		find "$c" -maxdepth 1 -type l -exec rm -f {} +
		for f in "$c"strings/*/; do [ -d "$f" ] && rmdir "$f"; done
		rmdir "$c"
	done
	for f in "$g"/functions/*/; do [ -d "$f" ] && rmdir "$f"; done
	for f in "$g"/strings/*/; do [ -d "$f" ] && rmdir "$f"; done
	rmdir "$g"
}

# dummy_bus: prints the number of the usb bus whose root hub sits on
# dummy_hcd.0 (the host side of dummy_udc.0).
dummy_bus() {
	local hub
	for hub in /sys/bus/usb/devices/usb*; do
		case $(readlink -f "$hub") in
		*/dummy_hcd.0/usb*) echo "${hub##*/usb}"; return 0 ;;
		esac
	done
	echo "FAIL: no usb bus on dummy_hcd.0" >&2
	return 1
}

# dummy_busid: prints the busid (e.g. 3-1) of the device on dummy_hcd's
# bus, waiting up to 20 s for a gadget bound to dummy_udc.0 to enumerate.
dummy_busid() {
	local bus d _
	bus=$(dummy_bus) || return 1
	for _ in $(seq 200); do
		for d in /sys/bus/usb/devices/"$bus"-*; do
			case ${d##*/} in *:*) continue ;; esac
			[ -f "$d/idVendor" ] && { echo "${d##*/}"; return 0; }
		done
		sleep 0.1
	done
	echo "FAIL: no device appeared on dummy_hcd's bus $bus in 20 s" >&2
	return 1
}

# usb_ancestor_ids SYSPATH: prints "vvvv:pppp" of the nearest USB device
# above SYSPATH (a resolved sysfs path).
usb_ancestor_ids() {
	local p=$1
	while [ "$p" != / ] && [ -n "$p" ]; do
		if [ -f "$p/idVendor" ] && [ -f "$p/idProduct" ]; then
			echo "$(cat "$p/idVendor"):$(cat "$p/idProduct")"
			return 0
		fi
		p=${p%/*}
	done
	return 1
}

# block_devs_under HCD VID PID: prints the /dev/sdX (one a line, size > 0)
# whose USB device is VID:PID (hex, 0x optional; "-" matches any) and whose
# sysfs path goes through HCD (e.g. vhci_hcd or dummy_hcd).
block_devs_under() {
	local hcd=$1 vid=${2#0x} pid=${3#0x} s p ids
	vid=${vid,,} pid=${pid,,}
	for s in /sys/block/sd*; do
		[ -e "$s/device" ] || continue
		p=$(readlink -f "$s/device")
		case $p in */"$hcd".[0-9]*/*) ;; *) continue ;; esac
		ids=$(usb_ancestor_ids "$p") || continue
		[ "$vid" = - ] || [ "${ids%:*}" = "$vid" ] || continue
		[ "$pid" = - ] || [ "${ids#*:}" = "$pid" ] || continue
		[ "$(cat "$s/size" 2>/dev/null || echo 0)" -gt 0 ] || continue
		[ -b "/dev/${s##*/}" ] || continue
		echo "/dev/${s##*/}"
	done
}

# wait_block_dev VID PID SECONDS: waits for a disk imported through
# vhci_hcd whose USB device is VID:PID and prints its /dev/sdX.  The same
# gadget seen directly on dummy_hcd (usb-storage claims it while it is not
# bound to usbip-host) is never picked.
wait_block_dev() {
	local d _
	for _ in $(seq $((${3:-30} * 10))); do
		d=$(block_devs_under vhci_hcd "$1" "$2" | head -1)
		[ -n "$d" ] && { echo "$d"; return 0; }
		sleep 0.1
	done
	echo "FAIL: no disk $1:$2 appeared under vhci_hcd in ${3:-30} s" >&2
	return 1
}

# dd_rate DEV [BS]: reads all of DEV with O_DIRECT (bs 1M by default) into
# a tmpfs file, and prints one line "BYTES SECONDS MB/S SHA256" (MB = 10^6
# bytes; the time covers the read alone, not the hashing).  Use it as
#   r=$(dd_rate /dev/sdb) && read -r bytes secs mbps sum <<<"$r"
dd_rate() {
	local dev=$1 bs=${2:-1M} tmp t0 t1 bytes secs sum
	tmp=$(mktemp -p /run dd_rate.XXXXXX) || return 1
	t0=$(date +%s%N)
	dd if="$dev" of="$tmp" bs="$bs" iflag=direct status=none || { echo "FAIL: reading $dev" >&2; rm -f "$tmp"; return 1; }
	t1=$(date +%s%N)
	bytes=$(stat -c %s "$tmp")
	sum=$(sha256sum <"$tmp" | cut -d' ' -f1)
	rm -f "$tmp"
	secs=$(awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')
	echo "$bytes $secs $(awk -v b="$bytes" -v n=$((t1 - t0)) 'BEGIN { printf "%.2f", (n > 0 ? b * 1000 / n : 0) }') $sum"
}

# usb_driver BUSID: prints the name of the driver BUSID is bound to, or
# nothing.
usb_driver() {
	local l
	l=$(readlink "/sys/bus/usb/devices/$1/driver" 2>/dev/null) || return 0
	echo "${l##*/}"
}
