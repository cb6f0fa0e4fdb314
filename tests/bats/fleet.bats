#!/usr/bin/env bats
# The fleet (doc/fleet.md): stable device addresses, the policy file, the
# operator role, and the proxy host's own view through proxy.sock.

load helpers

setup() {
	usbws_setup
	pki
}
teardown() { usbws_teardown; }

# addr_of LOG: the address the proxy gave the node's device, from its log
addr_of() { sed -n 's/.* as busid \([^ ]*\) on the proxy.*/\1/p' "$1" | tail -1; }

@test "stable addresses: after a proxy restart, nodes back in the reverse order, each address reads the same disk" {
	random_image "$WORK/a.img" 2
	random_image "$WORK/b.img" 2
	start_proxy "$WORK/proxy.log"
	port=$WSS_PORT
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a_pid=$NODE_PID
	a=$BUSID
	start_node "$WORK/b.log" node2 "storage:$WORK/b.img"
	b_pid=$NODE_PID
	b=$BUSID
	[[ "$a" =~ ^node-1-[0-9a-f]{16}$ ]]
	[[ "$b" =~ ^node-2-[0-9a-f]{16}$ ]]
	# the virtual disk has a serial (stable per image): the address follows it
	grep -qE "node node-1 exported 0525:a4a5 \(its 1-1\) as busid $a, by its serial$" "$WORK/proxy.log"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a1.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$b" "$WORK/b1.img"
	# the listing carries the address
	run "$USBWS" list --remote "$URL" --json --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	[ "$(grep -v '^usbws:' <<<"$output" | jq -r '.nodes[0].devices[0].busid')" = "$a" ]

	# the proxy restarts; node-2 comes back first this time
	kill -TERM "$a_pid" "$b_pid" "${PIDS[0]}"
	wait "$a_pid" "$b_pid" "${PIDS[0]}" || true
	start_proxy "$WORK/proxy2.log" server --listen "127.0.0.1:$port"
	start_node "$WORK/b2.log" node2 "storage:$WORK/b.img"
	[ "$BUSID" = "$b" ]
	start_node "$WORK/a2.log" node "storage:$WORK/a.img"
	[ "$BUSID" = "$a" ]
	[ "$(grep -n 'exported 0525:a4a5' "$WORK/proxy2.log" | head -1 | grep -c 'node node-2')" -eq 1 ]
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a2.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$b" "$WORK/b2.img"
	[ "$(sha256sum <"$WORK/a2.img")" = "$(sha256sum <"$WORK/a.img")" ]
	[ "$(sha256sum <"$WORK/b2.img")" = "$(sha256sum <"$WORK/b.img")" ]
	[ "$(sha256sum <"$WORK/a1.img")" = "$(sha256sum <"$WORK/a.img")" ]
	[ "$(sha256sum <"$WORK/b1.img")" = "$(sha256sum <"$WORK/b.img")" ]
	# and stock usbip sees the same addresses
	run usbip --tcp-port "$USBIP_PORT" list -r 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"$a: "*"(0525:a4a5)"* ]]
	[[ "$output" == *"$b: "*"(0525:a4a5)"* ]]
}

@test "a device without a serial is addressed by its port, the same on every export" {
	start_proxy "$WORK/proxy.log"
	# source/sink has no serial string: the address is vendor:product and the node's busid
	start_node "$WORK/s.log" node sourcesink
	s=$BUSID
	grep -qE "exported 0525:a4a0 \(its 1-1\) as busid $s, by its port$" "$WORK/proxy.log"
	kill -TERM "$NODE_PID"
	wait "$NODE_PID"
	start_node "$WORK/s2.log" node sourcesink
	[ "$BUSID" = "$s" ]
}

# ask_proxy LINE: one raw request on proxy.sock, its answer printed
ask_proxy() {
	python3 - "$USBWS_RUN_DIR/proxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PY
}

@test "usbws nodes: the proxy host sees every node and device, its state and traffic, without a certificate" {
	random_image "$WORK/a.img" 2
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	start_node "$WORK/b.log" node2 sourcesink
	b=$BUSID
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/read.img"
	run "$USBWS" nodes --json
	[ "$status" -eq 0 ]
	echo "$output" >"$WORK/nodes.json"
	[ "$(jq -c '[.nodes[].node]' "$WORK/nodes.json")" = '["node-1","node-2"]' ]
	[ "$(jq -r '.nodes[0].devices[0].id' "$WORK/nodes.json")" = "$a" ]
	[ "$(jq -r '.nodes[1].devices[0].id' "$WORK/nodes.json")" = "$b" ]
	# without vhci_hcd every device is offered over USB/IP; the read's
	# importer has gone, so nobody holds it
	[ "$(jq -r '[.nodes[].devices[] | .state + "/" + .offer + "/" + .link] | unique | .[]' "$WORK/nodes.json")" = \
		"offered/export/connected" ]
	# the 2 MiB read went through: bytes, URBs and a round trip counted
	[ "$(jq '.nodes[0].devices[0].bytes_from_node' "$WORK/nodes.json")" -gt 2097152 ]
	[ "$(jq '.nodes[0].devices[0].urbs' "$WORK/nodes.json")" -gt 10 ]
	[ "$(jq '.nodes[0].devices[0].urbs_completed' "$WORK/nodes.json")" -eq \
		"$(jq '.nodes[0].devices[0].urbs' "$WORK/nodes.json")" ]
	[ "$(jq '.nodes[0].devices[0].rtt_p50_us' "$WORK/nodes.json")" -gt 0 ]
	[ "$(jq -r '.nodes[0].devices[0].addressed_by' "$WORK/nodes.json")" = serial ]
	[ "$(jq -r '.nodes[1].devices[0].addressed_by' "$WORK/nodes.json")" = port ]
	[[ "$(jq -r '.nodes[0].address' "$WORK/nodes.json")" == 127.0.0.1:* ]]
	# the table: a device a row, in the proxy's order, and a filter
	run "$USBWS" nodes
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" =~ ^NODE\ +DEVICE\ +STATE\ +AT\ +VID:PID\ +NODE\ BUSID\ +LINK\ +FROM\ +UP\ +IN\ +OUT\ +URBS\ +P50\ +VENDOR\ :\ PRODUCT$ ]]
	[[ "${lines[1]}" =~ ^node-1\ +$a\ +offered\ +-\ +0525:a4a5\ +1-1\ +connected\ +127\.0\.0\.1:[0-9]+\ +[0-9]+s\ +[0-9]+\ [KM]?i?B\ +[0-9]+\ [KM]?i?B\ +[0-9]+\ +[0-9]+\ [um]s\ +Netchip\ Technology,\ Inc\.\ :\ Linux-USB\ File-backed\ Storage\ Gadget$ ]]
	[[ "${lines[2]}" =~ ^node-2\ +$b\ +offered\ +-\ +0525:a4a0\ +1-1\ +connected\ +127\.0\.0\.1:[0-9]+\ +[0-9]+s\ +320\ B\ +0\ B\ +0\ +-\ +Netchip\ Technology,\ Inc\.\ :\ Linux-USB\ \"Gadget\ Zero\"$ ]]
	# the columns line up: the first eight, left-aligned, start under their headers
	[ "$(column_starts "${lines[0]}" 8)" = "$(column_starts "${lines[1]}" 8)" ]
	[ "$(column_starts "${lines[1]}" 8)" = "$(column_starts "${lines[2]}" 8)" ]
	[ "$(column_starts "${lines[0]}" 8 | wc -w)" -eq 8 ]
	run "$USBWS" nodes --node 'node-2' --json
	[ "$(jq -c '[.nodes[].node]' <<<"$output")" = '["node-2"]' ]
	run "$USBWS" nodes --node 'gw-*'
	[ "$output" = "no node matching gw-* has a device on this proxy" ]
}

@test "the proxy host's commands refuse what they cannot do, each with its reason, and nothing else notices" {
	random_image "$WORK/a.img" 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	run "$USBWS" attach --device node-1-0000000000000000
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no device node-1-0000000000000000 on this proxy (usbws nodes lists them)" ]
	run "$USBWS" attach --device 'gw/17'
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: 'gw/17' is not a device id (PREFIX-HASH, at most 31 bytes of [A-Za-z0-9._-]; usbws nodes lists them)" ]
	run "$USBWS" attach --device "$a"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: $a is offered over USB/IP only (policy line 0): usbip attach -r reaches it, not usbws attach" ]
	run "$USBWS" attach --device "$a" --vhci vhci_hcd.x
	[ "$status" -eq 1 ]
	[[ "$output" == "usbws: error: \"vhci\": "* ]]
	run "$USBWS" detach --device "$a"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: $a is not attached: it is offered" ]
	run "$USBWS" detach --port 1 --device "$a"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws detach: give either --port N or --device ID" ]
	# usbip's letters, the same answers
	run "$USBWS" attach -d node-1-0000000000000000
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no device node-1-0000000000000000 on this proxy (usbws nodes lists them)" ]
	run "$USBWS" detach -d "$a"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: $a is not attached: it is offered" ]
	run "$USBWS" detach -p 3
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: port 3 is not attached by this proxy (see usbws port)" ]
	run "$USBWS" detach -p 1 -d "$a"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws detach: give either --port N or --device ID" ]
	run "$USBWS" attach
	[ "$status" -eq 2 ]
	[ "$output" = "usbws attach: --device ID is required" ]
	run "$USBWS" nodes --device "$a"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws nodes: takes no --device" ]
	run "$USBWS" nodes --node ''
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: \"node\" must be a pattern of 1..64 printable bytes (fnmatch, e.g. gw-*)" ]
	# raw requests: each refusal names what is wrong
	[[ "$(ask_proxy 'nodes please')" == '{"ok":false,"error":"the request is not JSON: '*' at column '*'"}' ]]
	[ "$(ask_proxy '{"cmd":"nodes","nodes":1}')" = '{"ok":false,"error":"nodes takes no field \"nodes\""}' ]
	[ "$(ask_proxy '{"cmd":"reboot"}')" = '{"ok":false,"error":"unknown \"cmd\" \"reboot\": ports, nodes, device, attach, detach or capture"}' ]
	[ "$(ask_proxy '{"cmd":"attach"}')" = '{"ok":false,"error":"needs \"device\": an id as usbws nodes shows it"}' ]
	[ "$(ask_proxy '{"cmd":"nodes","node":7}')" = '{"ok":false,"error":"\"node\" must be a pattern of 1..64 printable bytes (fnmatch, e.g. gw-*)"}' ]
	[ "$(ask_proxy '{"cmd":"nodes","node":"*a*a*a*a*a"}')" = '{"ok":false,"error":"\"node\" may hold at most 4 '"'*'"'"}' ]
	[ "$(ask_proxy '{"cmd":"attach","device":"g\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}')" = \
		'{"ok":false,"error":"'"'"'g???????????????????????????????????????...'"'"' is not a device id (PREFIX-HASH, at most 31 bytes of [A-Za-z0-9._-]; usbws nodes lists them)"}' ]
	# the tunnel went on through all of it
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/read.img"
	cmp "$WORK/a.img" "$WORK/read.img"
	absent "disconnected|closing" "$WORK/proxy.log"
}

# fake_proxy_sock JSON: a proxy.sock that answers every request with JSON
# (on one line), in the background
fake_proxy_sock() {
	mkdir -p "$USBWS_RUN_DIR"
	python3 - "$USBWS_RUN_DIR/proxy.sock" "$1" "$WORK/fake-sock.ready" <<'PY' &
import json, socket, sys
answer = json.dumps(json.loads(sys.argv[2])).encode() + b"\n"
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(4)
open(sys.argv[3], "w").write("ready\n")
while True:
    c, _ = s.accept()
    request = b""
    while not request.endswith(b"\n"):
        chunk = c.recv(4096)
        if not chunk:
            break
        request += chunk
    c.sendall(answer)
    c.close()
PY
	PIDS+=($!)
	wait_for "$WORK/fake-sock.ready" ready
}

@test "usbws port and nodes: tables of what proxy.sock answers, every name made printable" {
	now=$(date +%s)
	since=$((now - 3 * 86400 - 4 * 3600 - 1800))
	dev='{"busid":"gw-1-0123456789abcdef","vendor":"0525","product":"a4a5","speed":"high","class":"00"}'
	fake_proxy_sock '{"ok":true,"vhci":true,"ports":[
		{"port":3,"controller":0,"hub":"hs","device":'"$dev"',"node":"gw-1","node_busid":"1-1","local_busid":"5-1",
		 "vendor_name":"Netchip","product_name":"Disk"},
		{"port":12,"controller":1,"hub":"ss","device":'"$dev"',"node":"gw\u001b[31m-2\n","node_busid":"2-10","local_busid":"6-1",
		 "vendor_name":"","product_name":"Evil\u009b2J"}],
		"reexports":[{"busid":"gw-1-fedcba9876543210","device":'"$dev"',"node":"gw-1","node_busid":"1-2",
		 "importer":"127.0.0.1:40000","imported_seconds":3725}]}'
	run "$USBWS" port
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$WORK/port.out"
	cat >"$WORK/port.want" <<'EOF2'
PORT  VHCI        HUB  VID:PID    NODE        NODE BUSID  LOCAL BUSID  VENDOR : PRODUCT
   3  vhci_hcd.0  hs   0525:a4a5  gw-1        1-1         5-1          Netchip : Disk
  12  vhci_hcd.1  ss   0525:a4a5  gw?[31m-2?  2-10        6-1          unknown vendor : Evil?2J

USB/IP BUSID           VID:PID    NODE  NODE BUSID  IMPORTER           FOR
gw-1-fedcba9876543210  0525:a4a5  gw-1  1-2         127.0.0.1:40000  1h02m
EOF2
	diff -u "$WORK/port.want" "$WORK/port.out"

	# usbws nodes: a device a row; the node's name is in each device too
	rm "$USBWS_RUN_DIR/proxy.sock" "$WORK/fake-sock.ready"
	d1='"id":"gw-1-0123456789abcdef","node":"gw-1","state":"attached","attached_to":"vhci_hcd.0 port 3",
		"vendor":"0525","product":"a4a5","node_busid":"1-1","link":"connected","address":"10.0.0.7:51000",
		"connected_since":'$since',"bytes_from_node":12582912,"bytes_to_node":20480,"urbs":1234,
		"rtt_p50_us":850,"vendor_name":"Netchip","product_name":"Disk"'
	d2='"id":"gw-2-00000000000000ff","node":"gw\u001b]0;x\u0007","state":"held","attached_to":"",
		"vendor":"1050","product":"0407","node_busid":"3-1.4","link":"resuming","address":"[2001:db8::9]:443",
		"connected_since":'$since',"bytes_from_node":5,"bytes_to_node":0,"urbs":0,"rtt_p50_us":25000,
		"vendor_name":"Yubico","product_name":"A\u202eB"'
	fake_proxy_sock '{"ok":true,"nodes":[{"node":"gw-1","devices":[{'"$d1"'}]},
		{"node":"gw\u001b]0;x\u0007","devices":[{'"$d2"'}]}]}'
	run "$USBWS" nodes
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$WORK/nodes.out"
	cat >"$WORK/nodes.want" <<'EOF2'
NODE      DEVICE                 STATE     AT                 VID:PID    NODE BUSID  LINK       FROM                  UP      IN     OUT  URBS     P50  VENDOR : PRODUCT
gw-1      gw-1-0123456789abcdef  attached  vhci_hcd.0 port 3  0525:a4a5  1-1         connected  10.0.0.7:51000     3d04h  12 MiB  20 KiB  1234  850 us  Netchip : Disk
gw?]0;x?  gw-2-00000000000000ff  held      -                  1050:0407  3-1.4       resuming   [2001:db8::9]:443  3d04h     5 B     0 B     0   25 ms  Yubico : A?B
EOF2
	diff -u "$WORK/nodes.want" "$WORK/nodes.out"
}

# list_as CERT: usbws list --remote with that certificate, the JSON alone
list_as() {
	"$USBWS" list --remote "$URL" --json --cert "$PKI/$1.pem" --key "$PKI/$1.key" --ca "$PKI/ca.pem" 2>/dev/null
}

@test "a malformed policy file is refused at start with the file, line and reason" {
	printf 'operator cn=ops-*\nattach node=gw-* device=0525:a4a\n' >"$WORK/bad.policy"
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--vhci none --policy "$WORK/bad.policy"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: $WORK/bad.policy:2: device=0525:a4a: expected VID:PID in hex (e.g. 0525:a4a5)"* ]]
	[ ! -e "$USBWS_RUN_DIR/proxy.sock" ]
	run "$(PROXY_BIN)" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
		--vhci none --policy "$WORK/missing.policy"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$WORK/missing.policy: No such file or directory"* ]]
}

@test "the policy decides per node and device: exported, held on demand, or refused once (exit 3, no retry loop)" {
	random_image "$WORK/a.img" 1
	random_image "$WORK/b.img" 1
	cat >"$WORK/proxy.policy" <<-'POLICY'
	# storage of node-1 is re-exported; node-2's is held until asked for
	export    node=node-1 class=08
	on-demand node=node-2 device=0525:a4a5
	deny      device=0525:a4a0
	default   deny
	POLICY
	start_proxy "$WORK/proxy.log" server --vhci none --policy "$WORK/proxy.policy"
	grep -q "policy $WORK/proxy.policy: 3 rules, 0 operator lines" "$WORK/proxy.log"
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	start_node "$WORK/b.log" node2 "storage:$WORK/b.img"
	b=$BUSID
	run "$USBWS" nodes --json
	[ "$(jq -r --arg a "$a" '.nodes[].devices[] | select(.id == $a) | .state + " " + .offer + " " + (.policy_line|tostring)' <<<"$output")" = "offered export 2" ]
	[ "$(jq -r --arg b "$b" '.nodes[].devices[] | select(.id == $b) | .state + " " + .offer + " " + (.policy_line|tostring)' <<<"$output")" = "held on-demand 3" ]
	# a held device is not on the USB/IP list, and cannot be imported from it
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$output" = "$a 0525:a4a5 speed=3 interfaces=1" ]
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$b" "$WORK/b.read"
	[ "$status" -ne 0 ]
	grep -q "import of $b refused: held until usbws attach asks for it" "$WORK/proxy.log"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a.read"
	cmp "$WORK/a.img" "$WORK/a.read"
	# the source/sink is denied: the node says why and stops, with 3
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --busid 2-1 --backoff-max 1
	[ "$status" -eq 3 ]
	[[ "$output" == *"the proxy refused: this proxy's policy refuses 0525:a4a0 (its 2-1) of node node-1: $WORK/proxy.policy line 4 (policy)"* ]]
	[[ "$output" == *"not trying again: the proxy's policy decides this device, and would refuse it again (exit status 3)"* ]]
	[ "$(grep -c "closing its tunnel: this proxy's policy refuses 0525:a4a0" "$WORK/proxy.log")" -eq 1 ]
}

@test "SIGHUP rereads the policy: a now-refused tunnel closes with the reason, the others go on; a bad file changes nothing" {
	random_image "$WORK/a.img" 4
	random_image "$WORK/b.img" 1
	printf 'export node=node-*\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci none --policy "$WORK/proxy.policy"
	proxy=${PIDS[0]}
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	a=$BUSID
	start_node "$WORK/b.log" node2 "storage:$WORK/b.img"
	b_pid=$NODE_PID
	# a file that does not parse: the running policy stays, nobody notices
	printf 'export node=node-*\nexport node=node-1 node=node-2\n' >"$WORK/proxy.policy"
	kill -HUP "$proxy"
	wait_for "$WORK/proxy.log" "$(re "$WORK/proxy.policy:2: node= given twice; the policy loaded before stays in force")"
	# now node-2 is refused
	printf 'export node=node-1\n' >"$WORK/proxy.policy"
	kill -HUP "$proxy"
	wait_for "$WORK/proxy.log" "policy $(re "$WORK/proxy.policy") reloaded: 1 rules, 0 operator lines; 1 tunnel now refused and closed"
	# (not `run wait`: bats runs it in a subshell, which cannot wait for
	# this shell's child)
	wait "$b_pid" && st=0 || st=$?
	[ "$st" -eq 3 ]
	grep -q "the proxy refused: this proxy's policy refuses 0525:a4a5 (its 1-1) of node node-2: no rule of $WORK/proxy.policy lets it in (policy)" "$WORK/b.log"
	# node-1's tunnel went on, on its first connection
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/a.read"
	cmp "$WORK/a.img" "$WORK/a.read"
	[ "$(grep -c "node node-1 connected" "$WORK/proxy.log")" -eq 1 ]
	absent "node node-1 (disconnected|resumed)|node node-1: closing" "$WORK/proxy.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$output" = "$a 0525:a4a5 speed=3 interfaces=1" ]
}

@test "operators named by the policy (CN or OU) list the whole fleet; nodes still see only themselves" {
	printf 'operator cn=ops-*\noperator ou="Fleet Operators"\ndefault export\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci none --policy "$WORK/proxy.policy"
	start_node "$WORK/a.log" node sourcesink
	start_node "$WORK/b.log" node2 sourcesink
	[ "$(list_as ops | jq -c '[.nodes[].node] | sort')" = '["node-1","node-2"]' ]
	[ "$(list_as opsou | jq -c '[.nodes[].node] | sort')" = '["node-1","node-2"]' ]
	grep -q "ops-1 asked for the listing (operator: the whole fleet)" "$WORK/proxy.log"
	[ "$(list_as node | jq -c '[.nodes[].node]')" = '["node-1"]' ]
	[ "$(list_as node2 | jq -c '[.nodes[].node]')" = '["node-2"]' ]
}

@test "a device held on demand: usbws attach waits for its resuming node, and detach cancels what is pending" {
	fake_sysfs
	random_image "$WORK/a.img" 1
	printf 'on-demand node=node-1\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci auto --policy "$WORK/proxy.policy" --resume-time 60 \
		--ping-interval 1 --ping-timeout 3
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/a.log" node "storage:$WORK/a.img" \
		--ping-interval 1 --ping-timeout 3 --backoff-max 1
	a=$BUSID
	run "$USBWS" nodes --json
	[ "$(jq -r '.nodes[0].devices[0].state' <<<"$output")" = held ]
	# the link goes dead; the proxy parks the tunnel for a resume
	kill -USR1 "$RELAY_PID"
	wait_for "$WORK/proxy.log" "node node-1: connection lost; keeping busid $a" 15
	run "$USBWS" attach --device "$a" --timeout 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws: info: $a: its node is resuming; it is attached once the node is back (waiting up to 1 s)"* ]]
	[[ "$output" == *"usbws: error: $a: its node has not resumed within 1 s; the attach stays pending until it does (usbws detach --device $a cancels it)"* ]]
	run "$USBWS" nodes --json
	[ "$(jq -r '.nodes[0].devices[0] | .link + " " + (.attach_pending|tostring)' <<<"$output")" = "resuming true" ]
	run "$USBWS" detach --device "$a"
	[ "$status" -eq 0 ]
	[ "$output" = "cancelled the pending attach of $a" ]
	run "$USBWS" nodes --json
	[ "$(jq -r '.nodes[0].devices[0].attach_pending // false' <<<"$output")" = false ]
	# nothing was written to vhci_hcd's attach
	[ ! -s "$USBWS_SYSFS_ROOT/devices/platform/vhci_hcd.0/attach" ]
}

@test "address=port puts a serial aside: the device is addressed by vendor:product and its busid on the node" {
	random_image "$WORK/a.img" 1
	printf 'export device=0525:* address=port\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci none --policy "$WORK/proxy.policy"
	start_node "$WORK/a.log" node "storage:$WORK/a.img"
	grep -qE "exported 0525:a4a5 \(its 1-1\) as busid $BUSID, by its port$" "$WORK/proxy.log"
	# SHA-256 of the fields doc/fleet.md names, as Python's hashlib makes it
	[ "$BUSID" = "node-1-b0c71cd6cb7636dc" ]
}

@test "vhci= in the policy narrows the controllers a device is attached to" {
	fake_sysfs
	S=$USBWS_SYSFS_ROOT
	printf 'attach node=node-1 vhci=vhci_hcd.1\nattach node=node-2\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci auto --policy "$WORK/proxy.policy"
	# vhci_hcd.0 has free ports, but node-1's device goes to vhci_hcd.1
	start_node "$WORK/a.log" node sourcesink
	wait_for "$WORK/proxy.log" "node node-1: busid $ADDR_RE \(its 1-1\) attached to vhci_hcd.1 port 16"
	# with vhci_hcd.1 full, node-1 is refused rather than put elsewhere
	stop_procs
	fake_vhci_status 1 006 006
	start_proxy "$WORK/proxy2.log" server --vhci auto --policy "$WORK/proxy.policy"
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --retries 1
	[[ "$output" == *"the proxy refused: no free vhci_hcd port for a high/full/low-speed device in vhci_hcd.1 for node node-1 (vhci)"* ]]
	# node-2, under no vhci=, takes vhci_hcd.0
	start_node "$WORK/b.log" node2 sourcesink
	wait_for "$WORK/proxy2.log" "node node-2: busid $ADDR_RE \(its 1-1\) attached to vhci_hcd.0 port 0"
}

@test "usbws port lists USB/IP re-exports with their importer; a subjectAltName names an operator too" {
	"$BATS_TEST_DIRNAME/../pki.sh" "$PKI" --identities >/dev/null
	printf 'operator san-dns=*.fleet.example\ndefault export\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci none --policy "$WORK/proxy.policy"
	start_node "$WORK/b.log" node2 sourcesink
	b=$BUSID
	# sannode: CN node-1, DNS:node-9.fleet.example
	[ "$(list_as sannode | jq -c '[.nodes[].node]')" = '["node-2"]' ]
	# an importer that imports the device and stays
	python3 - "$USBIP_PORT" "$b" "$WORK/imported" "$WORK/release" <<'PY' &
import os, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(struct.pack(">HHI", 0x0111, 0x8003, 0) + sys.argv[2].encode().ljust(32, b"\0"))
reply = b""
while len(reply) < 8 + 312:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
open(sys.argv[3], "w").write("status %d\n" % struct.unpack(">I", reply[4:8])[0])
while not os.path.exists(sys.argv[4]):
    time.sleep(0.05)
PY
	PIDS+=($!)
	wait_for "$WORK/imported" "status 0"
	run "$USBWS" port --json
	[ "$status" -eq 0 ]
	[ "$(jq -r --arg b "$b" '.reexports[] | select(.busid == $b) | .node + " " + .node_busid + " " + (.importer | split(":")[0])' <<<"$output")" = "node-2 1-1 127.0.0.1" ]
	run "$USBWS" port
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^USB/IP\ BUSID\ +VID:PID\ +NODE\ +NODE\ BUSID\ +IMPORTER\ +FOR$ ]]
	[[ "${lines[1]}" =~ ^$b\ +0525:a4a0\ +node-2\ +1-1\ +127\.0\.0\.1:[0-9]+\ +[0-9]+s$ ]]
	run "$USBWS" nodes --json
	[ "$(jq -r '.nodes[0].devices[0].state' <<<"$output")" = re-exported ]
	run "$USBWS" attach --device "$b"
	[ "$output" = "usbws: error: $b is offered over USB/IP only (policy line 2): usbip attach -r reaches it, not usbws attach" ]
	touch "$WORK/release"
}

@test "two devices of one node with one serial: the second is refused with address=port named, and retries; address=port settles it" {
	random_image "$WORK/a.img" 1
	start_proxy "$WORK/proxy.log" server --vhci none
	# one image, so one serial, on two busids of node-1
	start_node "$WORK/a.log" node "storage:$WORK/a.img" --busid 1-1
	a=$BUSID
	: >"$WORK/b.log"
	"$USBWS" connect --url "$URL" --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem" \
		--virtual "storage:$WORK/a.img" --busid 2-1 --backoff-max 1 2>"$WORK/b.log" &
	b_pid=$!
	PIDS+=($b_pid)
	wait_count "$WORK/b.log" "the proxy refused: address $a is held by this node's 1-1: two devices with one serial\? give 0525:a4a5 address=port in the policy \(doc/fleet.md\) \(address\)" 2
	kill -0 "$b_pid"
	grep -q "node node-1: its 2-1 would take address $a of its own 1-1: refused" "$WORK/proxy.log"
	# the first goes on, untouched
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$a" "$WORK/read.img"
	cmp "$WORK/a.img" "$WORK/read.img"
	absent "replaced" "$WORK/a.log"
	# with address=port, each has an address of its own
	stop_procs
	printf 'export device=0525:a4a5 address=port\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy2.log" server --vhci none --policy "$WORK/proxy.policy"
	start_node "$WORK/a2.log" node "storage:$WORK/a.img" --busid 1-1
	a2=$BUSID
	start_node "$WORK/b2.log" node "storage:$WORK/a.img" --busid 2-1
	[ "$BUSID" != "$a2" ]
	[ "$(jq '[.nodes[0].devices[].id] | length' <<<"$("$USBWS" nodes --json)")" -eq 2 ]
}

@test "an attach pending for a parked device is carried to the fresh export that takes its place" {
	fake_sysfs
	random_image "$WORK/a.img" 1
	printf 'on-demand node=node-1\n' >"$WORK/proxy.policy"
	start_proxy "$WORK/proxy.log" server --vhci auto --policy "$WORK/proxy.policy" --ping-interval 1 --ping-timeout 3
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/a.log" node "storage:$WORK/a.img" \
		--ping-interval 1 --ping-timeout 3
	a=$BUSID
	old=$NODE_PID
	kill -USR1 "$RELAY_PID"
	wait_for "$WORK/proxy.log" "node node-1: connection lost; keeping busid $a" 15
	run "$USBWS" attach --device "$a" --timeout 0
	[ "$status" -eq 1 ]
	# the node restarts rather than resuming: its fresh export takes over
	# the parked tunnel, and with it the attach asked for
	kill -KILL "$old"
	start_node "$WORK/a2.log" node "storage:$WORK/a.img"
	[ "$BUSID" = "$a" ]
	wait_for "$WORK/proxy.log" "node node-1: busid $a \(its 1-1\) attached to vhci_hcd.0 port 0"
	[ -s "$USBWS_SYSFS_ROOT/devices/platform/vhci_hcd.0/attach" ]
}

@test "an export whose busid holds more than a busid may is refused, named, and other tunnels go on" {
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/a.log" node sourcesink
	a=$BUSID
	hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; printf '%0*d' $((($2 - ${#1}) * 2)) 0; }
	hello='{"type":"hello","version":1,"role":"export","device":{"busid":"1-1","vendor":"0525","product":"a4a5","speed":"high","class":"00","interfaces":[]}}'
	export_req="0111 8006 00000000 $(hex /sys/devices/x 256)$(hex '1 1' 32) 00000001 00000002 00000003 0525 a4a5 0100 00 00 00 01 01 00"
	run "$USBWS_BUILDDIR/tests/wspeer" --url "$URL" --cert "$PKI/node2.pem" --key "$PKI/node2.key" \
		--ca "$PKI/ca.pem" --timeout 10 --text "$hello" --hex "$export_req"
	[[ "$output" == *'"code":"usbip","message":"the exported device'"'"'s busid holds characters other than A-Z a-z 0-9 . _ : -"'* ]]
	absent "node node-2 exported" "$WORK/proxy.log"
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$output" = "$a 0525:a4a0 speed=3 interfaces=1" ]
}
