#!/usr/bin/env bats
# The systemd units' sandboxes fit the programs: each scores 2.0 or better in
# systemd-analyze security, and what the programs really open (traced with
# strace through a whole session) is within RestrictAddressFamilies.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# exposure UNIT: systemd-analyze's overall exposure level of the built UNIT
exposure() {
	systemd-analyze security --offline=true "$USBWS_BUILDDIR/systemd/$1" 2>&1 |
		sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

# families UNIT: the address families the unit allows, one a line
families() {
	sed -n 's/^RestrictAddressFamilies=//p' "$USBWS_BUILDDIR/systemd/$1" | tr ' ' '\n' | sort -u
}

# traced PROGRAM ARGS...: runs PROGRAM under strace (socket calls into
# $TRACE) in the background; stopping it stops PROGRAM, not just strace,
# which would detach and leave PROGRAM running
traced() {
	local strace_pid child i
	strace -f -qq -e trace=socket,socketpair -o "$TRACE" "$@" &
	strace_pid=$!
	for i in $(seq 100); do
		child=$(pgrep -P "$strace_pid") && break
		sleep 0.05
	done
	PIDS+=($child $strace_pid)
}

# traced_families TRACE: the families socket() and socketpair() were asked for
traced_families() {
	grep -oE '(socket|socketpair)\(AF_[A-Z0-9]+' "$1" | sed 's/.*(//' | sort -u
}

@test "both units score 2.0 or better in systemd-analyze security" {
	for u in usbws-proxy.service usbws-connect@.service; do
		e=$(exposure "$u")
		echo "# $u: $e" >&3
		[ -n "$e" ]
		awk -v e="$e" 'BEGIN { exit !(e <= 2.0) }'
	done
	# the proxy is never root: the unit names its user, and the one
	# privileged step only lets that user (not the operators' group) write
	# vhci_hcd's attach/detach
	grep -qx "User=usbws" "$USBWS_BUILDDIR/systemd/usbws-proxy.service"
	grep -q "^ExecStartPre=+.*chown usbws \$\$d/attach \$\$d/detach && chmod 0200 " "$USBWS_BUILDDIR/systemd/usbws-proxy.service"
	# the node starts as root for sysfs and becomes usbws before the network
	grep -q "^ExecStart=.*/usbws connect --user usbws " "$USBWS_BUILDDIR/systemd/usbws-connect@.service"
	grep -qx "CapabilityBoundingSet=CAP_SETUID CAP_SETGID" "$USBWS_BUILDDIR/systemd/usbws-connect@.service"
}

@test "the proxy opens only the address families its unit allows, through a whole session" {
	fake_sysfs
	fake_vhci_status 0 006 004
	random_image "$WORK/disk.img" 1
	# a host name to listen on, a node, a USB/IP importer, vhci_hcd, proxy.sock
	TRACE=$WORK/proxy.trace traced "$(PROXY_BIN)" --listen localhost:0 --usbip-listen 127.0.0.1:0 \
		--cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci auto 2>"$WORK/proxy.log"
	wait_for "$WORK/proxy.log" "re-exporting devices over USB/IP"
	WSS_PORT=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$WORK/proxy.log")
	USBIP_PORT=$(sed -n 's/.*re-exporting devices over USB\/IP on .*(port \([0-9]*\)).*/\1/p' "$WORK/proxy.log")
	URL=wss://localhost:$WSS_PORT/usbip
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	wait_for "$WORK/proxy.log" "attached to vhci_hcd"
	"$USBWS" port --json >/dev/null
	"$USBWS" list --remote "$URL" --json --cert "$PKI/node2.pem" --key "$PKI/node2.key" --ca "$PKI/ca.pem" >/dev/null
	usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1 >/dev/null
	stop_procs
	echo "# traced: $(traced_families "$WORK/proxy.trace" | tr '\n' ' ')" >&3
	[ -n "$(traced_families "$WORK/proxy.trace")" ]
	extra=$(comm -23 <(traced_families "$WORK/proxy.trace") <(families usbws-proxy.service))
	[ -z "$extra" ] || { echo "the proxy opened $extra, which its unit forbids"; false; }
}

@test "the node opens only the address families its unit allows, through a whole session" {
	fake_sysfs
	fake_stub 1-1 1
	start_proxy "$WORK/proxy.log" server --vhci none
	# --match: the udev monitor and the sysfs scan; each export dials the proxy
	TRACE=$WORK/node.trace traced "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --match 1050:0407 2>"$WORK/node.log"
	wait_for "$WORK/proxy.log" "node node-1 exported 1050:0407 \(its 1-1\) as busid" 20
	stop_procs
	echo "# traced: $(traced_families "$WORK/node.trace" | tr '\n' ' ')" >&3
	[ -n "$(traced_families "$WORK/node.trace")" ]
	extra=$(comm -23 <(traced_families "$WORK/node.trace") <(families usbws-connect@.service))
	[ -z "$extra" ] || { echo "the node opened $extra, which its unit forbids"; false; }
}
