# Shared by the usbws VM scenarios: a throwaway PKI, a mass-storage gadget
# on dummy_hcd, and starting usbws-proxy / usbws connect.  Sourced after
# lib.sh; sets B (build dir), work, pids, and fail().
B=$USBWS_BUILDDIR
work=/run/usbws-test
mkdir -p "$work"
pids=()
export USBWS_RUN_DIR=$work/run
# the host's /etc/usbws is the VM's too: read no default options file of it
export USBWS_CONF_DIR=$work/etc
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
# $PROXY_LOG (default $work/proxy.log, started afresh); WSS_URL and
# WSS_PORT are set.  A later --listen in ARGS wins (a restart on a port).
start_proxy() {
	local log=${PROXY_LOG:-$work/proxy.log}
	[ -f "$work/pki/ca.pem" ] || "$USBWS_SRCDIR/tests/pki.sh" "$work/pki" >/dev/null
	: >"$log"
	"$B/proxy/usbws-proxy" --listen 127.0.0.1:0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" \
		--ca "$work/pki/ca.pem" "$@" 2> >(stamp_lines >>"$log") &
	PROXY_PID=$!
	pids+=($PROXY_PID)
	wait_for "$log" "listening for nodes on .*\(port [0-9]+\)" 20
	WSS_PORT=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$log")
	WSS_URL="wss://localhost:$WSS_PORT/usbip"
}

# start_node LOG (--busid B | --device usbip-vudc.N | --virtual SPEC) [ARGS...]:
# waits for the export; NODE_PID is set.  It connects to $NODE_URL if set
# (e.g. the relay's), else to $WSS_URL, as $NODE_CERT (default node: node-1).
start_node() {
	local log=$1
	shift
	"$B/usbws/usbws" connect --url "${NODE_URL:-$WSS_URL}" --cert "$work/pki/${NODE_CERT:-node}.pem" \
		--key "$work/pki/${NODE_CERT:-node}.key" \
		--ca "$work/pki/ca.pem" "$@" 2> >(stamp_lines >>"$log") &
	NODE_PID=$!
	pids+=($NODE_PID)
	# generous: under TCG on a loaded host the first connections can miss a
	# fast keepalive before the export is through
	wait_for "$log" "as busid [^ ]+-[0-9a-f]{16} on the proxy" 90
}

# vhci_used: how many vhci_hcd ports are in use, over every controller
vhci_used() {
	cat /sys/devices/platform/vhci_hcd.0/status* | grep -cE '^(hs|ss) +[0-9]+ +006 ' || true
}

# keepalive fast enough that an outage is noticed within seconds; for both
# the proxy and the node
FAST=(--ping-interval 1 --ping-timeout 3)

# start_relay TARGET_PORT: tests/tcprelay in front of 127.0.0.1:TARGET_PORT,
# logging to $work/relay.log; sets RELAY_PID and RELAY_URL (the proxy's URL
# through it).  kill -USR1 blackholes the link, -HUP cuts it, -USR2 ends
# either outage (resetting what was open).
start_relay() {
	: >"$work/relay.log"
	"$B/tests/tcprelay" --listen 127.0.0.1:0 --to "127.0.0.1:$1" 2> >(stamp_lines >>"$work/relay.log") &
	RELAY_PID=$!
	pids+=($RELAY_PID)
	wait_for "$work/relay.log" "tcprelay: listening on 127\.0\.0\.1:[0-9]+$" 10
	RELAY_URL=wss://localhost:$(sed -n 's/.*tcprelay: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/relay.log")/usbip
}

# gadget_via_relay [PROXY-ARGS...]: the outage scenarios' setup: the gadget
# disk $work/disk.img on dummy_hcd, exported with usbws connect --busid
# through tcprelay to usbws-proxy --vhci auto, both with fast keepalive.
# Sets busid, orig (its driver before the export), dev (/dev/sdX through
# vhci), usbdev (the USB device above it) and before ("PORT BUSID" from
# usbws port).
gadget_via_relay() {
	gadget_storage disk "$work/disk.img" dummy_udc.0 || fail "cannot make the gadget"
	busid=$(dummy_busid) || fail "the gadget did not enumerate on dummy_hcd"
	orig=$(usb_driver "$busid")
	start_proxy --vhci auto "${FAST[@]}" "$@"
	start_relay "$WSS_PORT"
	NODE_URL=$RELAY_URL start_node "$work/node.log" --busid "$busid" "${FAST[@]}" --connect-timeout 2 --backoff-max 2
	dev=$(wait_block_dev 1d6b 0104 60) || fail "no disk through vhci"
	usbdev=$(usb_name "$dev") || fail "no USB device above $dev"
	before=$(port_of "$busid")
	[ -n "$before" ] || fail "usbws port does not list $busid: $(ports_json)"
	stamp "imported as $dev (usb $usbdev); vhci port and proxy busid: $before"
}

# port_of NODE_BUSID: prints "PORT BUSID" (the vhci port and the proxy's
# busid) of the device the node exports as NODE_BUSID, from usbws port
# --json; nothing if it is not attached
port_of() {
	"$B/usbws/usbws" port --json | jq -r --arg b "$1" '.ports[] | select(.node_busid == $b) | "\(.port) \(.busid)"'
}

# ports_json: usbws port --json on one line
ports_json() {
	"$B/usbws/usbws" port --json | jq -c .
}

# usb_name DEV: the name of the USB device (e.g. 5-1) under /dev/sdX
usb_name() {
	local p
	p=$(readlink -f "/sys/block/${1#/dev/}/device")
	while [ "$p" != / ] && [ -n "$p" ]; do
		[ -f "$p/idVendor" ] && { echo "${p##*/}"; return 0; }
		p=${p%/*}
	done
	return 1
}

# wait_no_block_dev VID PID SECONDS: waits until no disk VID:PID is left
# under vhci_hcd; returns 1 on timeout
wait_no_block_dev() {
	local _
	for _ in $(seq $((${3:-30} * 10))); do
		[ -z "$(block_devs_under vhci_hcd "$1" "$2")" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_count FILE REGEX N SECONDS: waits until N lines of FILE match the
# extended REGEX; returns 1 on timeout
wait_count() {
	local _
	for _ in $(seq $((${4:-10} * 10))); do
		[ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_gone PID SECONDS: waits for process PID to end; returns 1 on timeout
wait_gone() {
	local _
	for _ in $(seq $((${2:-30} * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# now_ms: milliseconds since the epoch; secs_since MS: seconds since then (x.y)
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }
t_start=$(now_ms)
# stamp TEXT: prints TEXT with the time since the scenario began
stamp() { echo "[+$(secs_since "$t_start") s] $*"; }
# log_secs_after MS FILE REGEX: seconds from MS (a now_ms) to the stamp of
# the last line of FILE (a log written through stamp_lines) matching REGEX
log_secs_after() {
	local at
	at=$(grep -E "$3" "$2" | tail -1 | sed -n 's/^\[+\([0-9]*\.[0-9]\)\].*/\1/p')
	[ -n "$at" ] || return 1
	awk -v a="$at" -v m=$(($1 - t_start)) 'BEGIN { printf "%.1f", a - m / 1000 }'
}
# stamp_lines: copies its input, each line after the time since the
# scenario began (the daemons' logs, so that they line up with stamp's)
stamp_lines() {
	local l
	while IFS= read -r l || [ -n "$l" ]; do printf '[+%s] %s\n' "$(secs_since "$t_start")" "$l"; done
}

# dump_logs: prints the daemons' logs and the kernel's last lines, for a
# scenario that failed; use it as  trap 'dump_logs $?; stop_all; ...' EXIT
dump_logs() {
	local f
	[ "${1:-1}" != 0 ] || return 0
	for f in "$work"/node*.log "$work"/proxy*.log "$work"/relay.log; do
		[ -s "$f" ] || continue
		echo "--- ${f##*/}"
		sed 's/^/  /' "$f"
	done
	echo "--- dmesg (last 40 lines)"
	dmesg | tail -40 | sed 's/^/  /'
}

# dmesg_mark: the number of kernel log lines so far; dmesg_since MARK: the
# lines after it
dmesg_mark() { dmesg | wc -l; }
dmesg_since() { dmesg | tail -n +$(($1 + 1)); }
