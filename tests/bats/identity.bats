#!/usr/bin/env bats
# Who a node is, and for how long: its identity is one field of its
# certificate, read whole and checked (usbws-proxy --identity); a revoked
# certificate is refused, and cut off when --crl is reread on SIGHUP; one
# identity has one live connection per device it exports.  The odd
# certificates come from tests/pki.sh --identities.

load helpers

setup() {
	usbws_setup
	pki
	"$BATS_TEST_DIRNAME/../pki.sh" "$PKI" --identities
}
teardown() { usbws_teardown; }

# refused NAME [ALERT]: a node with certificate NAME is refused at TLS
# with ALERT (default: bad certificate), and says so without retrying
refused() {
	run timeout 20 "$USBWS" connect --url "$URL" --cert "$PKI/$1.pem" --key "$PKI/$1.key" --ca "$PKI/ca.pem" \
		--virtual sourcesink --connect-timeout 5
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy at $URL refused this node's certificate: sslv3 alert ${2:-bad certificate}"* ||
	   "$output" == *"the proxy at $URL closed the connection right after the TLS handshake"* ]]
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
}

# serial NAME: the certificate's serial, in hex, as the proxy logs it
serial() { openssl x509 -in "$PKI/$1.pem" -noout -serial | sed 's/^serial=//'; }

@test "the identity is the CN field itself: an OU that reads like a CN names nobody" {
	random_image "$WORK/disk.img" 1
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	refused nocn
	grep -qF "client certificate rejected: the certificate names no identity: it has no subject CN (or no subjectAltName of the kind --identity asks for); issue it with one (subject OU=y/CN=node-1, serial $(serial nocn), --identity cn)" "$WORK/proxy.log"
	# the real node-1 keeps its one tunnel, and nobody else became node-1
	[ "$(grep -c 'node node-1 connected' "$WORK/proxy.log")" -eq 1 ]
	absent "replaced|disconnected|\(no CN\)" "$WORK/proxy.log"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "an identity longer than 64 bytes is refused, never cut: two 128-character CNs, and 300" {
	start_proxy "$WORK/proxy.log"
	n127=$(printf 'n%.0s' $(seq 127))
	for who in long128a long128b long300; do
		refused "$who"
	done
	grep -qF "client certificate rejected: the certificate's identity is longer than 64 bytes; issue a shorter one (subject CN=${n127}a, serial $(serial long128a), --identity cn)" "$WORK/proxy.log"
	grep -qF "client certificate rejected: the certificate's identity is longer than 64 bytes; issue a shorter one (subject CN=${n127}b, serial $(serial long128b), --identity cn)" "$WORK/proxy.log"
	[ "$(grep -c "identity is longer than 64 bytes" "$WORK/proxy.log")" -eq 3 ]
	absent "node .* (connected|exported)" "$WORK/proxy.log"
}

@test "an identity with a control character is refused, and logged escaped" {
	start_proxy "$WORK/proxy.log"
	refused ctrlcn
	grep -qF "client certificate rejected: the certificate's identity is not valid UTF-8 or holds a control character; issue it with printable text (subject CN=node-\\1B[2J, serial $(serial ctrlcn), --identity cn)" "$WORK/proxy.log"
	absent $'\x1b' "$WORK/proxy.log"
	absent "node .* connected" "$WORK/proxy.log"
}

@test "--identity san-dns or san-uri names nodes by that subjectAltName, and refuses a certificate without one" {
	start_proxy "$WORK/proxy.log" server --identity san-dns
	# CN node-1, but the proxy was told to look at the DNS name
	start_node "$WORK/san.log" sannode sourcesink
	grep -qF "on the proxy, which knows this node as node-9.fleet.example" "$WORK/san.log"
	grep -qF "node node-9.fleet.example exported" "$WORK/proxy.log"
	absent "node node-1" "$WORK/proxy.log"
	# node.pem has a CN and no subjectAltName
	refused node
	grep -qF "client certificate rejected: the certificate names no identity: it has no subject CN (or no subjectAltName of the kind --identity asks for); issue it with one (subject CN=node-1, serial $(serial node), --identity san-dns)" "$WORK/proxy.log"
	stop_procs
	start_proxy "$WORK/proxy2.log" server --identity san-uri
	start_node "$WORK/san2.log" sannode sourcesink
	grep -qF "node urn:usbws:node-9 exported" "$WORK/proxy2.log"
	run "$(PROXY_BIN)" --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --identity subject
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --identity needs cn, san-dns or san-uri, not 'subject'" ]
}

@test "a revoked node is refused at TLS with its serial and subject; other nodes are let in" {
	random_image "$WORK/disk.img" 1
	start_proxy "$WORK/proxy.log" server --crl "$PKI/crl.pem"
	grep -q "checking node certificates against 1 CRL file (1 revoked serial)" "$WORK/proxy.log"
	refused node3 "certificate revoked"
	grep -qF "client certificate rejected: certificate revoked (subject CN=node-3, serial 2000); a node needs a certificate signed by --ca, valid now and not revoked" "$WORK/proxy.log"
	absent "node node-3" "$WORK/proxy.log"
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "SIGHUP rereads --crl: a connected node revoked since is cut off, every other tunnel goes on" {
	random_image "$WORK/disk.img" 8
	cp "$PKI/crl-none.pem" "$WORK/crl.pem"
	start_proxy "$WORK/proxy.log" server --crl "$WORK/crl.pem"
	proxy=${PIDS[0]}
	start_node "$WORK/node3.log" node3 sourcesink
	node3=$NODE_PID
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	# a reader on node-1 all through the reloads
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 1 127.0.0.1 read-disk "$BUSID" "$WORK/read.img" \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)

	# a CRL that does not load changes nothing
	echo "not a CRL" >"$WORK/crl.pem"
	kill -HUP "$proxy"
	wait_for "$WORK/proxy.log" "reload failed; the CA and CRLs loaded before stay in force"
	grep -qF -- "--crl $WORK/crl.pem: no PEM CRL (-----BEGIN X509 CRL-----) in it" "$WORK/proxy.log"
	kill -0 "$node3"

	cp "$PKI/crl.pem" "$WORK/crl.pem"
	kill -HUP "$proxy"
	wait_for "$WORK/proxy.log" "reloaded: new handshakes use the new CRLs; 1 tunnel ended as revoked"
	grep -qF "node node-3: certificate revoked (serial 2000, subject CN=node-3); cutting off its connection" "$WORK/proxy.log"
	rc=0
	wait "$node3" || rc=$?
	cat "$WORK/node3.log"
	[ "$rc" -eq 1 ]
	grep -qF "the proxy refused: this node's certificate has been revoked (revoked)" "$WORK/node3.log"
	# and it does not get back in
	refused node3 "certificate revoked"
	grep -qF "client certificate rejected: certificate revoked (subject CN=node-3, serial 2000)" "$WORK/proxy.log"
	# node-1 never noticed
	wait "$client"
	cmp "$WORK/disk.img" "$WORK/read.img"
	absent "lost the proxy|refused" "$WORK/node.log"
	absent "node node-1: certificate revoked|node node-1 disconnected" "$WORK/proxy.log"
}

@test "no TLS session is resumed: a node revoked since its first handshake is checked afresh and refused" {
	cp "$PKI/crl-none.pem" "$WORK/crl.pem"
	start_proxy "$WORK/proxy.log" server --crl "$WORK/crl.pem"
	upgrade=$'GET /usbip HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: usbws.v1\r\n\r\n'
	tls() {   # tls SESSION-OPTION: node-3 upgrades, with openssl s_client
		(printf '%s' "$upgrade"; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$WSS_PORT" \
			-CAfile "$PKI/ca.pem" -cert "$PKI/node3.pem" -key "$PKI/node3.key" "$@" 2>&1
	}
	run tls -sess_out "$WORK/tls.session"
	[[ "$output" == *"HTTP/1.1 101 Switching Protocols"* ]]
	cp "$PKI/crl.pem" "$WORK/crl.pem"
	kill -HUP "${PIDS[0]}"
	wait_for "$WORK/proxy.log" "reloaded: new handshakes use the new CRLs"
	# the proxy issued no session ticket: there is nothing to resume (a
	# resumed session would skip verification)
	[ ! -s "$WORK/tls.session" ]
	run tls
	[[ "$output" != *"HTTP/1.1 101"* ]]
	wait_for "$WORK/proxy.log" "client certificate rejected: certificate revoked \(subject CN=node-3, serial 2000\)"
	[ "$(grep -c "TLS client node-3 connected\|node node-3" "$WORK/proxy.log")" -eq 0 ]
}

@test "SIGHUP ends the parked session of a node revoked while its link was down" {
	cp "$PKI/crl-none.pem" "$WORK/crl.pem"
	start_proxy "$WORK/proxy.log" server --crl "$WORK/crl.pem" --ping-interval 1 --ping-timeout 3
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/node3.log" node3 sourcesink \
		--ping-interval 1 --ping-timeout 3 --connect-timeout 2 --backoff-max 1
	busid=$BUSID
	kill -USR1 "$RELAY_PID"
	wait_for "$WORK/proxy.log" "node node-3: connection lost; keeping busid $busid" 10
	cp "$PKI/crl.pem" "$WORK/crl.pem"
	kill -HUP "${PIDS[0]}"
	wait_for "$WORK/proxy.log" "reloaded: new handshakes use the new CRLs; 1 tunnel ended as revoked"
	grep -qF "node node-3: certificate revoked (serial 2000, subject CN=node-3); ending its parked session" "$WORK/proxy.log"
	# the device is gone at once, not at the end of the resume time
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# back on the network, the node is refused at TLS and stops
	kill -USR2 "$RELAY_PID"
	wait_for "$WORK/proxy.log" "client certificate rejected: certificate revoked \(subject CN=node-3, serial 2000\)" 10
	absent "node node-3 resumed" "$WORK/proxy.log"
}

@test "one identity, one live connection: a node restarted behind a half-open link takes over at once, even at its cap" {
	random_image "$WORK/disk.img" 2
	# its old tunnel fills the cap: the new export replaces it, not refused
	start_proxy "$WORK/proxy.log" server --max-tunnels-per-node 1
	start_relay "$WSS_PORT"
	URL=wss://localhost:$RELAY_PORT/usbip start_node "$WORK/old.log" node "storage:$WORK/disk.img"
	old_busid=$BUSID
	# the link goes silent both ways; the node dies without a word
	kill -USR1 "$RELAY_PID"
	kill -KILL "$NODE_PID"
	start=$(date +%s%N)
	start_node "$WORK/new.log" node "storage:$WORK/disk.img"
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "the restarted node exported in $ms ms (keepalive timeout 45 s)" >&3
	[ "$ms" -lt 2000 ]
	grep -qF "node node-1: a newer connection exports its 1-1 again; ending the older one (busid $old_busid, connected): replaced by a newer connection of node-1" "$WORK/proxy.log"
	# the same device, so the same address (doc/fleet.md)
	[ "$BUSID" = "$old_busid" ]
	# exactly one device for node-1, over USB/IP and in the listing
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[ "$output" = "$BUSID 0525:a4a5 speed=3 interfaces=1" ]
	run "$USBWS" list --remote "$URL" --json --cert "$PKI/node.pem" --key "$PKI/node.key" --ca "$PKI/ca.pem"
	[ "$status" -eq 0 ]
	echo "$output" | grep -v '^usbws:' >"$WORK/list.json"
	[ "$(jq -r '[.nodes[] | select(.node == "node-1") | .devices[] | select(.state == "exported")] | length' \
		"$WORK/list.json")" = 1 ]
	"$CLIENT" --port "$USBIP_PORT" 127.0.0.1 read-disk "$BUSID" "$WORK/read.img"
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "two live devices on one identity: the older is told it was replaced, and a loop is one warning" {
	start_proxy "$WORK/proxy.log"
	start_node "$WORK/a.log" node sourcesink
	a=$NODE_PID
	start_node "$WORK/b.log" node sourcesink
	rc=0
	wait "$a" || rc=$?
	[ "$rc" -eq 1 ]
	grep -qF "the proxy refused: replaced by a newer connection of node-1 (replaced)" "$WORK/a.log"
	# as two devices restarted by systemd would: each takes it back in turn
	for i in 1 2 3 4 5 6; do
		prev=$NODE_PID
		start_node "$WORK/n$i.log" node sourcesink
		wait "$prev" || true
	done
	wait_count "$WORK/proxy.log" "node node-1 disconnected" 7
	cat "$WORK/proxy.log"
	# 7 takeovers: the first 3 said one by one, then one warning for the loop
	[ "$(grep -c 'a newer connection exports its 1-1 again' "$WORK/proxy.log")" -eq 3 ]
	[ "$(grep -c 'replacement loop' "$WORK/proxy.log")" -eq 1 ]
	grep -qE "warning: node node-1: replacement loop: its 1-1 has changed connections 4 times in [0-9]+ s; two live devices seem to share this identity \(a copied certificate\?\); said again at most once every 60 s" "$WORK/proxy.log"
	# the last one holds the device
	run "$CLIENT" --port "$USBIP_PORT" 127.0.0.1 list
	[ "$status" -eq 0 ]
	[ "$(wc -l <<<"$output")" -eq 1 ]
	[[ "$output" == "$BUSID "* ]]
}
