# Shared by the bats files: paths to the built programs, and background
# servers that are always stopped, whatever the test's outcome.

usbws_setup() {
	USBWS=${USBWS_BUILDDIR:?run through make check}/usbws/usbws
	CLIENT=$USBWS_BUILDDIR/tests/usbip-testclient
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/usbws-bats.XXXXXX")
	PIDS=()
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
