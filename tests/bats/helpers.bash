# Shared by the bats files: paths to the built programs, and background
# servers that are always stopped, whatever the test's outcome.

# A device's stable address on the proxy (proxy/devaddr.h), as an ERE
ADDR_RE='[A-Za-z0-9._-]+-[0-9a-f]{16}'

usbws_setup() {
	USBWS=${USBWS_BUILDDIR:?run through make check}/usbws/usbws
	CLIENT=$USBWS_BUILDDIR/tests/usbip-testclient
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/usbws-bats.XXXXXX")
	PIDS=()
	# control sockets and sysfs of this test only; fake_sysfs fills it; the
	# default options files are looked for in $WORK/etc, not /etc/usbws
	export USBWS_RUN_DIR=$WORK/run USBWS_SYSFS_ROOT=$WORK/sys USBWS_CONF_DIR=$WORK/etc
	mkdir -p "$USBWS_SYSFS_ROOT"
}

# stop_procs: stops every background process a test started
stop_procs() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

usbws_teardown() {
	stop_procs
	rm -rf "$WORK"
}

# start_serve LOG ARGS...: runs 'usbws serve --listen 127.0.0.1:0 ARGS' and
# sets PORT from its log line.
start_serve() {
	local log=$1 i
	shift
	"$USBWS" serve --listen 127.0.0.1:0 "$@" 2>"$log" &
	PIDS+=($!)
	for i in $(seq 100); do
		PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	echo "usbws serve did not start:" >&2
	cat "$log" >&2
	return 1
}

# random_image PATH MIB: an image of random bytes
random_image() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

PROXY_BIN() { echo "$USBWS_BUILDDIR/proxy/usbws-proxy"; }

# pki: a fresh throwaway PKI in $WORK/pki
pki() {
	PKI=$WORK/pki
	"$BATS_TEST_DIRNAME/../pki.sh" "$PKI"
}

# wait_for FILE REGEX [SECONDS]: until a line matches (default 5 s)
wait_for() {
	local i
	for i in $(seq $((${3:-5} * 20))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# wait_count FILE REGEX N [SECONDS]: until N lines match (default 20 s)
wait_count() {
	local i
	for i in $(seq $((${4:-20} * 20))); do
		[ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.05
	done
	echo "only $(grep -cE "$2" "$1" 2>/dev/null) of $3 lines /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# absent REGEX FILE: no line matches.  (A bare `! grep` would not fail a
# bats test anywhere but on its last line: errexit ignores a negation.)
absent() { ! grep -qE "$1" "$2"; }

# column_starts LINE N: where the first N columns of a table's line start,
# 1-based: columns are two spaces or more apart, a cell holds single ones
column_starts() {
	awk -v n="$2" '{
		pos = 1; out = "1"
		for (k = 1; k < n && match(substr($0, pos), /  +[^ ]/); k++) {
			pos += RSTART + RLENGTH - 2
			out = out " " pos
		}
		print out
	}' <<<"$1"
}

# re TEXT: TEXT as an extended regex matching itself
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|/]/\\&/g'; }

# start_proxy LOG [CERT-NAME [ARGS...]]: WSS on a free port (WSS_PORT),
# USB/IP re-export on another (USBIP_PORT); CERT-NAME defaults to server.
# PROXY_LISTEN and PROXY_USBIP_LISTEN change the addresses (127.0.0.1:0),
# NOFILE=SOFT:HARD the file descriptor limits.
start_proxy() {
	local log=$1 name=${2:-server}
	shift $(($# < 2 ? $# : 2))
	# emptied here, as start_node does: a reused log must not show the last
	# proxy's line before this one has even started
	: >"$log"
	prlimit --nofile="${NOFILE:-$(ulimit -Sn):$(ulimit -Hn)}" "$(PROXY_BIN)" \
		--listen "${PROXY_LISTEN:-127.0.0.1:0}" --usbip-listen "${PROXY_USBIP_LISTEN:-127.0.0.1:0}" \
		--cert "$PKI/$name.pem" --key "$PKI/$name.key" --ca "$PKI/ca.pem" "$@" 2>"$log" &
	PROXY_PID=$!
	PIDS+=($!)
	proxy_listening "$log"
}

# proxy_listening LOG: until the proxy logging to LOG re-exports; sets
# WSS_PORT, USBIP_PORT and URL from its lines
proxy_listening() {
	wait_for "$1" "re-exporting devices over USB/IP" || return 1
	WSS_PORT=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$1")
	USBIP_PORT=$(sed -n 's/.*re-exporting devices over USB\/IP on .*(port \([0-9]*\)).*/\1/p' "$1")
	URL=wss://localhost:$WSS_PORT/usbip
}

# start_node LOG IDENTITY SPEC [extra args]: exports SPEC; sets BUSID
start_node() {
	local log=$1 who=$2 spec=$3
	shift 3
	# emptied here, not by the child: a reused log must not show the last
	# run's line before this one has even started
	: >"$log"
	"$USBWS" connect --url "$URL" --cert "$PKI/$who.pem" --key "$PKI/$who.key" --ca "$PKI/ca.pem" \
		--virtual "$spec" "$@" 2>"$log" &
	NODE_PID=$!
	PIDS+=($NODE_PID)
	node_exported "$log"
}

# node_exported LOG [SECONDS]: until the node logging to LOG is exported;
# sets BUSID, the proxy's name for its device
node_exported() {
	wait_for "$1" "as busid $ADDR_RE on the proxy" "${2:-5}" || return 1
	BUSID=$(sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$1")
}

# fake_sysfs: a small sysfs tree at $USBWS_SYSFS_ROOT, as the kernel lays it
# out: a YubiKey (1-1, on "usb"), a hub (1-2), a SuperSpeed disk (2-1) and a
# device imported through vhci_hcd (3-1); the usbip-host driver; vhci_hcd
# with two controllers of 8+8 ports, all free.  Writes land in the files,
# so a test reads back what usbws wrote.
fake_sysfs() {
	local r=$USBWS_SYSFS_ROOT d
	mkdir -p "$r/bus/usb/devices" "$r/bus/usb/drivers/usb" "$r/bus/usb/drivers/usbip-host" \
		"$r/bus/usb/drivers/usbhid" "$r/bus/usb/drivers/usb-storage"
	: >"$r/bus/usb/drivers_probe"
	for f in bind unbind; do
		: >"$r/bus/usb/drivers/usb/$f"
		: >"$r/bus/usb/drivers/usbip-host/$f"
	done
	: >"$r/bus/usb/drivers/usbip-host/match_busid"
	: >"$r/bus/usb/drivers/usbip-host/rebind"
	fake_usb_device devices/pci0000:00/0000:00:14.0/usb1/1-1 1-1 1050 0407 12 00 1 3 03
	fake_usb_device devices/pci0000:00/0000:00:14.0/usb1/1-2 1-2 0bda 5411 480 09 1 4 09
	fake_usb_device devices/pci0000:00/0000:00:14.0/usb2/2-1 2-1 0781 5581 5000 00 2 2 08
	fake_usb_device devices/platform/vhci_hcd.0/usb3/3-1 3-1 046d c52b 12 00 3 2 03
	d=$r/devices/platform/vhci_hcd.0
	: >"$d/attach"
	: >"$d/detach"
	echo 32 >"$d/nports"
	fake_vhci_status 0 004 004
	fake_vhci_status 1 004 004
}

# fake_usb_device PATH BUSID VID PID SPEED CLASS BUSNUM DEVNUM IFCLASS
fake_usb_device() {
	local r=$USBWS_SYSFS_ROOT d=$USBWS_SYSFS_ROOT/$1
	mkdir -p "$d/$2:1.0"
	echo "$3" >"$d/idVendor"; echo "$4" >"$d/idProduct"; echo 0100 >"$d/bcdDevice"
	echo "$5" >"$d/speed"; echo "$6" >"$d/bDeviceClass"; echo 00 >"$d/bDeviceSubClass"
	echo 00 >"$d/bDeviceProtocol"; echo 1 >"$d/bConfigurationValue"; echo 1 >"$d/bNumConfigurations"
	echo " 1" >"$d/bNumInterfaces"; echo "$7" >"$d/busnum"; echo "$8" >"$d/devnum"
	echo "$9" >"$d/$2:1.0/bInterfaceClass"; echo 00 >"$d/$2:1.0/bInterfaceSubClass"
	echo 00 >"$d/$2:1.0/bInterfaceProtocol"
	ln -s "$(realpath --relative-to="$r/bus/usb/devices" "$d")" "$r/bus/usb/devices/$2"
	ln -s "$(realpath --relative-to="$r/bus/usb/devices" "$d/$2:1.0")" "$r/bus/usb/devices/$2:1.0"
	ln -s "$(realpath --relative-to="$d" "$r/bus/usb/drivers/usb")" "$d/driver"
}

# fake_vhci_status CONTROLLER HS-STATE SS-STATE: 8 hs and 8 ss ports in
# the given state (004 free, 006 used), as vhci_hcd prints them
fake_vhci_status() {
	local c=$1 f=$USBWS_SYSFS_ROOT/devices/platform/vhci_hcd.0/status i
	[ "$c" = 0 ] || f=$f.$c
	{
		echo "hub port sta spd dev      sockfd local_busid"
		for i in $(seq 0 7); do fake_vhci_line hs $((c * 16 + i)) "$2"; done
		for i in $(seq 8 15); do fake_vhci_line ss $((c * 16 + i)) "$3"; done
	} >"$f"
}

fake_vhci_line() {
	if [ "$3" = 006 ]; then
		printf '%s  %04u %s 003 00010002 000005 %d-1\n' "$1" "$2" "$3" "$(($2 + 4))"
	else
		printf '%s  %04u %s 000 00000000 000000 0-0\n' "$1" "$2" "$3"
	fi
}

# fake_stub BUSID STATUS: BUSID as usbip-host leaves it once bound
fake_stub() {
	local d
	d=$(realpath "$USBWS_SYSFS_ROOT/bus/usb/devices/$1")
	ln -sfn "$(realpath --relative-to="$d" "$USBWS_SYSFS_ROOT/bus/usb/drivers/usbip-host")" "$d/driver"
	echo "$2" >"$d/usbip_status"
	: >"$d/usbip_sockfd"
}

# start_relay TARGET-PORT: tests/tcprelay in front of 127.0.0.1:TARGET-PORT
# (the outages: kill -USR1 blackholes, -HUP cuts, -USR2 ends either); sets
# RELAY_PORT, and exports RELAY_PID and RELAY_LOG for tcppeer.py session
start_relay() {
	RELAY_LOG=$WORK/relay.log
	"$USBWS_BUILDDIR/tests/tcprelay" --listen 127.0.0.1:0 --to "127.0.0.1:$1" --pidfile "$WORK/relay.pid" \
		2>"$RELAY_LOG" &
	RELAY_PID=$!
	PIDS+=($RELAY_PID)
	wait_for "$RELAY_LOG" "^tcprelay: listening on 127\.0\.0\.1:[0-9]+$" || return 1
	RELAY_PORT=$(sed -n 's/^tcprelay: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$RELAY_LOG")
	export RELAY_PID RELAY_LOG
}

# fds PID, rss_kib PID: a process's open descriptors and resident memory
fds() { ls "/proc/$1/fd" | wc -l; }
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
