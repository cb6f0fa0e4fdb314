# Shared by the usbws VM scenarios: a throwaway PKI, a mass-storage gadget
# on dummy_hcd, and starting usbws-proxy / usbws connect.  Sourced after
# lib.sh; sets B (build dir), work, pids, and fail().
B=$USBWS_BUILDDIR
work=/run/usbws-test
mkdir -p "$work"
pids=()
export USBWS_RUN_DIR=$work/run
fail() { echo "FAIL: $*"; dmesg | tail -20; exit 1; }
stop_all() {
	kill "${pids[@]}" 2>/dev/null || true
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# make_disk MIB: a random image on tmpfs (9p would weigh on the rate), its
# sha256 in $want
make_disk() {
	head -c $(($1 * 1024 * 1024)) /dev/urandom >"$work/disk.img"
	want=$(sha256sum <"$work/disk.img" | cut -d' ' -f1)
}

# start_proxy [ARGS...]: usbws-proxy on a free port, logging to
# $PROXY_LOG (default $work/proxy.log, started afresh); WSS_URL is set
start_proxy() {
	local log=${PROXY_LOG:-$work/proxy.log}
	[ -f "$work/pki/ca.pem" ] || "$USBWS_SRCDIR/tests/pki.sh" "$work/pki" >/dev/null
	: >"$log"
	"$B/proxy/usbws-proxy" --listen 127.0.0.1:0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" \
		--ca "$work/pki/ca.pem" "$@" 2>>"$log" &
	PROXY_PID=$!
	pids+=($PROXY_PID)
	wait_for "$log" "listening for nodes on .*\(port [0-9]+\)" 20
	WSS_URL="wss://localhost:$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$log")/usbip"
}

# start_node LOG (--busid B | --device usbip-vudc.N | --virtual SPEC): waits
# for the export; NODE_PID is set
start_node() {
	local log=$1
	shift
	"$B/usbws/usbws" connect --url "$WSS_URL" --cert "$work/pki/node.pem" --key "$work/pki/node.key" \
		--ca "$work/pki/ca.pem" "$@" 2>>"$log" &
	NODE_PID=$!
	pids+=($NODE_PID)
	wait_for "$log" "as busid [0-9]+-[0-9]+ on the proxy" 30
}

# vhci_used: how many vhci_hcd ports are in use, over every controller
vhci_used() {
	cat /sys/devices/platform/vhci_hcd.0/status* | grep -cE '^(hs|ss) +[0-9]+ +006 ' || true
}
