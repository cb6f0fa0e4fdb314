#!/usr/bin/env bats
# The kernel-facing logic against a fake sysfs tree (helpers.bash
# fake_sysfs): what usbws writes to bind, unbind, export, attach and detach,
# and what it refuses.  The real kernel is exercised in tests/vm.

load helpers

setup() {
	usbws_setup
	fake_sysfs
	S=$USBWS_SYSFS_ROOT
}
teardown() { usbws_teardown; }

@test "usbws list --local shows busid, names from usb.ids, speed, class, driver and state" {
	run "$USBWS" list --local --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.devices | length == 4' >/dev/null
	echo "$output" | jq -e '.devices[] | select(.busid == "1-1") | .vendor == "1050" and .product == "0407"
		and .speed == "full" and .class == "00" and .driver == "usb" and .state == "available"
		and .vendor_name == "Yubico.com" and (.product_name | startswith("Yubikey 4"))
		and .interfaces[0].class == "03"' >/dev/null
	echo "$output" | jq -e '.devices[] | select(.busid == "1-2") | .state == "hub"' >/dev/null
	echo "$output" | jq -e '.devices[] | select(.busid == "2-1") | .speed == "super" and .state == "available"' >/dev/null
	echo "$output" | jq -e '.devices[] | select(.busid == "3-1") | .state == "imported"' >/dev/null
	# the table: a header, a row each, the columns as wide as their cells (the
	# names are hwdata's usb.ids)
	run "$USBWS" list --local
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "BUSID  VID:PID    SPEED  CLASS  DRIVER  STATE      VENDOR : PRODUCT" ]
	[[ "${lines[1]}" == "1-1    1050:0407  full   00     usb     available  Yubico.com : Yubikey 4"* ]]
	[[ "${lines[2]}" == "1-2    0bda:5411  high   09     usb     hub        Realtek Semiconductor Corp. : "* ]]
	[[ "${lines[3]}" == "2-1    0781:5581  super  00     usb     available  SanDisk Corp. : "* ]]
	[[ "${lines[4]}" == "3-1    046d:c52b  full   00     usb     imported   Logitech, Inc. : "* ]]
	fake_stub 1-1 2
	run "$USBWS" list --local --json
	echo "$output" | jq -e '.devices[] | select(.busid == "1-1") | .state == "exported" and .driver == "usbip-host"' >/dev/null
	# a longer driver widens its column, on every line
	run "$USBWS" list --local
	[ "${lines[0]}" = "BUSID  VID:PID    SPEED  CLASS  DRIVER      STATE      VENDOR : PRODUCT" ]
	[[ "${lines[1]}" == "1-1    1050:0407  full   00     usbip-host  exported   Yubico.com : Yubikey 4"* ]]
	[[ "${lines[2]}" == "1-2    0bda:5411  high   09     usb         hub        Realtek"* ]]
}

@test "usbws --sysfs-root overrides the environment" {
	run env -u USBWS_SYSFS_ROOT "$USBWS" --sysfs-root "$S" list --local --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.devices | length == 4' >/dev/null
}

@test "usbws bind: match_busid, unbind from the current driver, bind to usbip-host; the driver is remembered" {
	run "$USBWS" bind --busid 1-1 --verbose
	[ "$status" -eq 0 ]
	[[ "$output" == *"bound 1-1 to usbip-host (it was on usb)"* ]]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/match_busid")" = "add 1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usb/unbind")" = "1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/bind")" = "1-1" ]
	[ "$(cat "$USBWS_RUN_DIR/bound-1-1")" = "usb" ]
	# in that order
	order=$(printf '%s\n' "$output" | sed -n 's/.*sysfs: wrote "[^"]*" to [^ ]*\/\(bus\/usb\/drivers\/[^:]*\): ok/\1/p' | paste -sd' ')
	[ "$order" = "bus/usb/drivers/usbip-host/match_busid bus/usb/drivers/usb/unbind bus/usb/drivers/usbip-host/bind" ]
}

@test "usbip's letters: bind -b and unbind -b do what --busid does, -v logs the writes, list -l is --local" {
	run "$USBWS" bind -b 1-1 -v
	[ "$status" -eq 0 ]
	[[ "$output" == *"bound 1-1 to usbip-host (it was on usb)"* ]]
	[[ "$output" == *'sysfs: wrote "1-1" to '*"/bus/usb/drivers/usbip-host/bind: ok"* ]]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/match_busid")" = "add 1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/bind")" = "1-1" ]
	fake_stub 1-1 1
	run "$USBWS" unbind -b 1-1
	[ "$status" -eq 0 ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/match_busid")" = "del 1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usb/bind")" = "1-1" ]
	[ "$("$USBWS" list -l --json)" = "$("$USBWS" list --local --json)" ]
	[ "$("$USBWS" list -l)" = "$("$USBWS" list --local)" ]
	[ "$("$USBWS" list -l | wc -l)" -ge 4 ]
}

@test "usbws bind refuses hubs, vhci devices and unknown busids, writing nothing" {
	run "$USBWS" bind --busid 1-2
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 1-2 cannot be exported: it is a hub; usbip-host does not export hubs, export the devices behind it" ]
	run "$USBWS" bind --busid 3-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 3-1 cannot be exported: it is attached through vhci_hcd (imported from elsewhere); exporting it again would loop" ]
	run "$USBWS" bind --busid 9-9
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no USB device 9-9: No such device" ]
	run "$USBWS" bind --busid ../../etc
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no USB device ../../etc: Invalid argument" ]
	[ ! -s "$S/bus/usb/drivers/usbip-host/match_busid" ]
	[ ! -s "$S/bus/usb/drivers/usbip-host/bind" ]
	[ ! -s "$S/bus/usb/drivers/usb/unbind" ]
}

@test "usbws bind without usbip-host loaded says so and undoes nothing it did not do" {
	rm -r "$S/bus/usb/drivers/usbip-host"
	run "$USBWS" bind --busid 1-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: the usbip-host driver is not loaded (modprobe usbip-host)" ]
	[ ! -s "$S/bus/usb/drivers/usb/unbind" ]
}

@test "usbws unbind gives the device back to the driver it had" {
	"$USBWS" bind --busid 1-1
	fake_stub 1-1 1
	run "$USBWS" unbind --busid 1-1
	[ "$status" -eq 0 ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/unbind")" = "1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/match_busid")" = "del 1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/rebind")" = "1-1" ]
	# the fake kernel does not rebind, so usbws binds the remembered driver itself
	[ "$(cat "$S/bus/usb/drivers/usb/bind")" = "1-1" ]
	[ ! -e "$USBWS_RUN_DIR/bound-1-1" ]
}

@test "usbws unbind refuses a device that is being exported, or not bound" {
	fake_stub 1-1 2
	run "$USBWS" unbind --busid 1-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 1-1 is being exported; stop that first with usbws disconnect --busid 1-1" ]
	run "$USBWS" unbind --busid 2-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 2-1 is not bound to usbip-host (its driver: usb)" ]
	[ ! -s "$S/bus/usb/drivers/usbip-host/unbind" ]
}

@test "usbws connect --busid refuses a hub before it dials" {
	pki
	run "$USBWS" connect --url wss://localhost:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --busid 1-2
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 1-2 cannot be exported: it is a hub; usbip-host does not export hubs, export the devices behind it" ]
}

@test "usbws connect --busid hands the stub a socket and notices when the stub closes it" {
	pki
	fake_stub 1-1 1
	start_proxy "$WORK/proxy.log" server --vhci none
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --busid 1-1
	echo "$output"
	[ "$status" -eq 1 ]
	# the fake stub wrote nothing back and holds no reference: EOF at once
	[[ "$(cat "$S/bus/usb/devices/1-1/usbip_sockfd")" =~ ^[0-9]+$ ]]
	[[ "$output" == *"usbip-host 1-1 has its socket; relaying"* ]]
	[[ "$output" == *"usbip-host closed its end of the connection: 1-1 went away or was taken down"* ]]
	wait_for "$WORK/proxy.log" "node node-1 unexported busid"
	# it was bound before usbws came, so usbws leaves it bound
	[ ! -s "$S/bus/usb/drivers/usbip-host/unbind" ]
}

# usbip-host binding BUSID as the kernel would, once usbws writes its bind
# file: that file is a FIFO until then, so usbws waits in open(2) while the
# device moves over, and then a regular file (mode 0200, as the kernel has
# it) that holds what usbws wrote
fake_stub_on_bind() {
	local b=$S/bus/usb/drivers/usbip-host/bind
	rm -f "$b"
	mkfifo "$b"
	(
		until [ -s "$S/bus/usb/drivers/usbip-host/match_busid" ]; do sleep 0.05; done
		fake_stub "$1" 1
		chmod 0200 "$S/bus/usb/devices/$1/usbip_sockfd"
		mv "$b" "$b.fifo"
		: >"$b"
		chmod 0200 "$b"
		cat "$b.fifo" >"$b"
		rm "$b.fifo"
	) &
	PIDS+=($!)
}

@test "connect --user: the node binds as root, then parses the network as that user and writes sysfs through the files it opened first" {
	pki
	# as the kernel has them: root's, writable by root alone
	chmod 0200 "$S"/bus/usb/drivers/usbip-host/{match_busid,unbind,rebind} "$S"/bus/usb/drivers/usb/{bind,unbind} \
		"$S/bus/usb/drivers_probe"
	chmod 0755 "$WORK"
	fake_stub_on_bind 1-1
	start_proxy "$WORK/proxy.log" server --vhci none
	uid=$(id -u nobody)
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --busid 1-1 --user nobody --verbose
	echo "$output"
	# the fake stub holds no reference to its socket: the export ends at once
	[ "$status" -eq 1 ]
	[[ "$output" == *"bound 1-1 to usbip-host (it was on usb)"* ]]
	[[ "$output" == *"running as nobody (uid $uid)"* ]]
	[[ "$output" == *"usbip-host 1-1 has its socket; relaying"* ]]
	wait_for "$WORK/proxy.log" "node node-1 exported 1050:0407"
	[ "$(stat -c %a "$S/bus/usb/devices/1-1/usbip_sockfd")" = 200 ]
	[ "$(stat -c %a "$S/bus/usb/drivers/usbip-host/bind")" = 200 ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/bind")" = "1-1" ]
	# the socket, and the device given back: usbip-host lets go of it, then usb has it again
	[[ "$(cat "$S/bus/usb/devices/1-1/usbip_sockfd")" =~ ^[0-9]+$ ]]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/unbind")" = "1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/match_busid")" = "del 1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usbip-host/rebind")" = "1-1" ]
	[ "$(cat "$S/bus/usb/drivers/usb/bind")" = "1-1" ]
	[[ "$output" == *"gave 1-1 back to usb"* ]]
	# every write after the drop went through a held fd, in this order
	after=$(printf '%s\n' "$output" | sed -n '/running as nobody/,$p' |
		sed -n 's/.*sysfs: wrote "\([^"]*\)" to [^ ]*\/\(bus\/usb\/[^ ]*\) (held): ok/\2=\1/p' | paste -sd' ')
	[ "$after" = "bus/usb/devices/1-1/usbip_sockfd=$(cat "$S/bus/usb/devices/1-1/usbip_sockfd") bus/usb/drivers/usbip-host/unbind=1-1 bus/usb/drivers/usbip-host/match_busid=del 1-1 bus/usb/drivers/usbip-host/rebind=1-1 bus/usb/drivers/usb/bind=1-1" ]
	! printf '%s\n' "$output" | sed -n '/running as nobody/,$p' | grep "sysfs: wrote" | grep -vq "(held): ok$"
	# nobody cannot unlink its control socket from root's directory: the
	# file stays, and a socket nobody answers on counts as gone
	[ -S "$USBWS_RUN_DIR/connect-1-1.sock" ]
	run "$USBWS" disconnect --busid 1-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no usbws connect is exporting 1-1 (no $USBWS_RUN_DIR/connect-1-1.sock)" ]
}

@test "connect --user: the export runs as that user, with no capabilities, until SIGTERM" {
	pki
	chmod 0755 "$WORK"
	start_proxy "$WORK/proxy.log" server --vhci none
	# the key is root's alone: read before the drop, once for every connection
	chmod 0600 "$PKI/node.key"
	start_node "$WORK/node.log" node sourcesink --user nobody
	uid=$(id -u nobody)
	grep -q "running as nobody (uid $uid)" "$WORK/node.log"
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$NODE_PID/status")" = "$uid $uid $uid $uid" ]
	[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$NODE_PID/status")" = 0000000000000000 ]
	[ "$(awk '/^CapPrm:/ { print $2 }' "/proc/$NODE_PID/status")" = 0000000000000000 ]
	[ "$(awk '/^Groups:/ { print $2 }' "/proc/$NODE_PID/status")" = "" ]
	# its control socket still answers root, and disconnect sees it go
	# although the process can no longer unlink it
	run "$USBWS" status --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.tunnels | length == 1' >/dev/null
	kill -TERM "$NODE_PID"
	wait_for "$WORK/node.log" "the proxy confirmed the unexport"
	wait_for "$WORK/proxy.log" "node node-1 unexported busid"
	wait "$NODE_PID"
	run "$USBWS" status --json
	echo "$output" | jq -e '.tunnels | length == 0' >/dev/null
}

@test "connect --user with a user that does not exist stops before it binds or connects" {
	pki
	run "$USBWS" connect --url wss://localhost:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --busid 1-1 --user no-such-user-here
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --user no-such-user-here: no such user (give an existing one, e.g. nobody)" ]
	[ ! -s "$S/bus/usb/drivers/usbip-host/match_busid" ]
	[ ! -s "$S/bus/usb/drivers/usb/unbind" ]
}

@test "usbws connect --device usbip-vudc.N explains a UDC with no gadget" {
	pki
	mkdir -p "$S/devices/platform/usbip-vudc.0"
	run "$USBWS" connect --url wss://localhost:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --device usbip-vudc.0
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: usbip-vudc.0 has no gadget bound (dev_desc: No such file or directory); write usbip-vudc.0 to a gadget's UDC first" ]
	run "$USBWS" connect --url wss://localhost:1/usbip --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --device usbip-vudc.1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no usbip-vudc.1: is the usbip-vudc module loaded?" ]
}

@test "the proxy attaches a high-speed device to a free hs port and detaches it when the socket closes" {
	pki
	fake_vhci_status 0 006 004
	start_proxy "$WORK/proxy.log" server --vhci auto
	start_node "$WORK/node.log" node "storage:$(random_image "$WORK/d.img" 1; echo "$WORK/d.img")"
	# ports 0-7 are taken: the first free hs port is 16, on vhci_hcd.1; devid 1<<16|1, speed high (3)
	wait_for "$WORK/proxy.log" "attached to vhci_hcd.1 port 16"
	[[ "$(cat "$S/devices/platform/vhci_hcd.0/attach")" =~ ^16\ [0-9]+\ 65537\ 3$ ]]
	# the fake kernel drops its end at once, as a dying vhci would
	wait_for "$WORK/proxy.log" "closing its tunnel: vhci_hcd port 16 was detached on the proxy"
	[ "$(cat "$S/devices/platform/vhci_hcd.0/detach")" = "16" ]
	wait_for "$WORK/node.log" "the proxy refused: vhci_hcd port 16 was detached on the proxy \(detached\)"
}

@test "with --user the proxy parses the network as that user and attaches through the vhci files it opened first" {
	pki
	fake_vhci_status 0 006 004
	# as the kernel has them: root's, writable by root alone
	chmod 0200 "$S/devices/platform/vhci_hcd.0/attach" "$S/devices/platform/vhci_hcd.0/detach"
	chmod 0755 "$WORK"
	start_proxy "$WORK/proxy.log" server --vhci auto --user nobody
	pid=${PIDS[0]}
	uid=$(id -u nobody)
	grep -q "running as nobody (uid $uid)" "$WORK/proxy.log"
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")" = "$uid $uid $uid $uid" ]
	[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")" = 0000000000000000 ]
	[ "$(awk '/^Groups:/ { print $2 }' "/proc/$pid/status")" = "" ]
	start_node "$WORK/node.log" node "storage:$(random_image "$WORK/d.img" 1; echo "$WORK/d.img")"
	wait_for "$WORK/proxy.log" "attached to vhci_hcd.1 port 16"
	[[ "$(cat "$S/devices/platform/vhci_hcd.0/attach")" =~ ^16\ [0-9]+\ 65537\ 3$ ]]
	wait_for "$WORK/proxy.log" "closing its tunnel: vhci_hcd port 16 was detached on the proxy"
	[ "$(cat "$S/devices/platform/vhci_hcd.0/detach")" = "16" ]
}

@test "--user with a user that does not exist stops the proxy before it serves anyone" {
	pki
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--vhci none --user no-such-user-here
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: --user no-such-user-here: no user no-such-user-here"* ]]
}

@test "a pinned node lands only on its vhci_hcd; --vhci LIST limits everyone" {
	pki
	start_proxy "$WORK/proxy.log" server --vhci auto --pin node-1=vhci_hcd.1
	start_node "$WORK/node.log" node "storage:$(random_image "$WORK/d.img" 1; echo "$WORK/d.img")"
	wait_for "$WORK/proxy.log" "attached to vhci_hcd.1 port 16"
	stop_procs
	: >"$S/devices/platform/vhci_hcd.0/attach"
	start_proxy "$WORK/proxy2.log" server --vhci 1
	start_node "$WORK/node2.log" node "storage:$WORK/d.img"
	wait_for "$WORK/proxy2.log" "attached to vhci_hcd.1 port 16"
}

@test "a pinned controller is reserved for its node: another node never lands there, even with the rest full" {
	pki
	# vhci_hcd.0's hs ports are all taken; vhci_hcd.1 is free, and node-1's
	fake_vhci_status 0 006 004
	start_proxy "$WORK/proxy.log" server --vhci auto --pin node-1=vhci_hcd.1
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node2.pem" --key "$PKI/node2.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 1
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws: error: the proxy refused: no free vhci_hcd port for a high/full/low-speed device in any vhci_hcd for node node-2; vhci_hcd.1 is reserved by --pin for other nodes (vhci)"* ]]
	grep -qF "node node-2: closing its tunnel: no free vhci_hcd port for a high/full/low-speed device in any vhci_hcd for node node-2; vhci_hcd.1 is reserved by --pin for other nodes" "$WORK/proxy.log"
	absent "attached to vhci_hcd" "$WORK/proxy.log"
	[ ! -s "$S/devices/platform/vhci_hcd.0/attach" ]
	# the node it is pinned for still gets it
	start_node "$WORK/node.log" node sourcesink
	wait_for "$WORK/proxy.log" "node node-1: busid $ADDR_RE \(its 1-1\) attached to vhci_hcd.1 port 16"
	# with --vhci LIST too, the reservation holds
	stop_procs
	: >"$S/devices/platform/vhci_hcd.0/attach"
	start_proxy "$WORK/proxy2.log" server --vhci 0,1 --pin node-1=1
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node2.pem" --key "$PKI/node2.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 1
	[[ "$output" == *"the proxy refused: no free vhci_hcd port for a high/full/low-speed device in vhci_hcd.0,1 for node node-2; vhci_hcd.1 is reserved by --pin for other nodes (vhci)"* ]]
	[ ! -s "$S/devices/platform/vhci_hcd.0/attach" ]
}

@test "no free port of the right speed: the node is told why, nothing is attached" {
	pki
	fake_vhci_status 0 006 004
	fake_vhci_status 1 006 004
	start_proxy "$WORK/proxy.log" server --vhci auto
	# ports may free up: the node tries again, with backoff, as often as told
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 2
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy refused: no free vhci_hcd port for a high/full/low-speed device in any vhci_hcd for node node-1 (vhci)"* ]]
	[ "$(grep -c 'no free vhci_hcd port' <<<"$output")" -eq 2 ]
	[[ "$output" == *"giving up after 2 attempts (--retries)"* ]]
	[ ! -s "$S/devices/platform/vhci_hcd.0/attach" ]
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink --retries 1
	[[ "$output" == *"no free vhci_hcd port"* ]]
}

@test "usbws-proxy refuses bad --vhci and --pin values, and --vhci LIST without vhci_hcd" {
	pki
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci 1,x
	[ "$status" -eq 1 ]
	[[ "$output" == *'--vhci "1,x": expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below 128'* ]]
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --pin node-1
	[ "$status" -eq 1 ]
	[[ "$output" == *"--pin node-1: expected NODE=LIST, e.g. camera-7=2,3"* ]]
	rm -r "$S/devices/platform/vhci_hcd.0"
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci 0
	[ "$status" -eq 1 ]
	[[ "$output" == *"--vhci 0: vhci_hcd is not loaded (modprobe vhci-hcd)"* ]]
}

@test "usbws port and detach talk to the proxy's control socket" {
	pki
	run "$USBWS" port
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no usbws-proxy answers on $USBWS_RUN_DIR/proxy.sock: No such file or directory" ]
	start_proxy "$WORK/proxy.log" server --vhci auto
	run "$USBWS" port --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.vhci == true and .ports == [] and .reexports == []' >/dev/null
	run "$USBWS" port
	[ "$output" = "no devices attached to vhci_hcd or re-exported by this proxy" ]
	run "$USBWS" detach --port 5
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: port 5 is not attached by this proxy (see usbws port)" ]
	run "$USBWS" detach --port x
	[ "$status" -eq 2 ]
	[ "$output" = "usbws detach: --port wants a vhci port number, not 'x'" ]
	# a second proxy does not steal the socket
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot listen on $USBWS_RUN_DIR/proxy.sock: another usbws-proxy answers there"* ]]
	run "$USBWS" port --json
	[ "$status" -eq 0 ]
}

@test "usbws status and disconnect find running tunnels by busid" {
	pki
	run "$USBWS" status
	[ "$output" = "no tunnels running" ]
	run "$USBWS" disconnect --busid 1-1
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no usbws connect is exporting 1-1 (no $USBWS_RUN_DIR/connect-1-1.sock)" ]
	start_proxy "$WORK/proxy.log" server --vhci none
	random_image "$WORK/d.img" 1
	start_node "$WORK/node.log" node "storage:$WORK/d.img"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	[ "$status" -eq 0 ]
	run "$USBWS" status --json
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg b "$BUSID" '.tunnels | length == 1 and .[0].kind == "virtual" and .[0].state == "exported"
		and .[0].proxy_busid == $b and .[0].bytes_to_proxy > 1048576 and .[0].urbs > 10' >/dev/null
	run "$USBWS" status
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^BUSID\ +VID:PID\ +KIND\ +STATE\ +PROXY\ BUSID\ +UP\ +URBS\ +FROM\ PROXY\ +TO\ PROXY\ +URL$ ]]
	[[ "${lines[1]}" =~ ^1-1\ +0525:a4a5\ +virtual\ +exported\ +$BUSID\ +[0-9]+s\ +[0-9]+\ +[0-9]+\ [KM]?i?B\ +[0-9]+\ [KM]?i?B\ +wss://localhost:$WSS_PORT/usbip$ ]]
	[ "$(column_starts "${lines[0]}" 5)" = "$(column_starts "${lines[1]}" 5)" ]
}
