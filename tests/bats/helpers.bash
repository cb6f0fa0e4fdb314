# Shared by the bats files: paths to the built programs, and background
# servers that are always stopped, whatever the test's outcome.

usbws_setup() {
	USBWS=${USBWS_BUILDDIR:?run through make check}/usbws/usbws
	CLIENT=$USBWS_BUILDDIR/tests/usbip-testclient
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/usbws-bats.XXXXXX")
	PIDS=()
	# control sockets and sysfs of this test only; fake_sysfs fills it
	export USBWS_RUN_DIR=$WORK/run USBWS_SYSFS_ROOT=$WORK/sys
	mkdir -p "$USBWS_SYSFS_ROOT"
}

usbws_teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
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

# wait_for FILE REGEX: until a line matches (5 s)
wait_for() {
	local i
	for i in $(seq 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# start_proxy LOG [CERT-NAME]: WSS on a free port (WSS_PORT), USB/IP
# re-export on another (USBIP_PORT); CERT-NAME defaults to server
start_proxy() {
	local log=$1 name=${2:-server}
	"$(PROXY_BIN)" --listen 127.0.0.1:0 --usbip-listen 127.0.0.1:0 \
		--cert "$PKI/$name.pem" --key "$PKI/$name.key" --ca "$PKI/ca.pem" 2>"$log" &
	PIDS+=($!)
	wait_for "$log" "re-exporting devices over USB/IP" || return 1
	WSS_PORT=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$log")
	USBIP_PORT=$(sed -n 's/.*re-exporting devices over USB\/IP on .*(port \([0-9]*\)).*/\1/p' "$log")
	URL=wss://localhost:$WSS_PORT/usbip
}

# start_node LOG IDENTITY SPEC [extra args]: exports SPEC; sets BUSID
start_node() {
	local log=$1 who=$2 spec=$3
	shift 3
	"$USBWS" connect --url "$URL" --cert "$PKI/$who.pem" --key "$PKI/$who.key" --ca "$PKI/ca.pem" \
		--virtual "$spec" "$@" 2>"$log" &
	NODE_PID=$!
	PIDS+=($NODE_PID)
	wait_for "$log" "as busid [0-9]+-[0-9]+ on the proxy" || return 1
	BUSID=$(sed -n 's/.* as busid \([0-9]*-[0-9]*\) on the proxy.*/\1/p' "$log")
}
