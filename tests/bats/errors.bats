#!/usr/bin/env bats
# What a user is told when a file, a URL or a port is wrong: each message
# exact, each naming what is wrong and what to do, from both programs.

load helpers

setup() {
	usbws_setup
	pki >/dev/null
	PROXY=$(PROXY_BIN)
	# a file that is no PEM at all, a directory, and a key that wants a passphrase
	printf 'not a certificate\n' >"$WORK/junk.txt"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret \
		-out "$WORK/encrypted.key" 2>/dev/null
}
teardown() { usbws_teardown; }

# link ARGS...: runs usbws ARGS with --cert, --key and --ca as $CERT, $KEY, $CA
link() {
	run "$USBWS" "$@" --cert "$CERT" --key "$KEY" --ca "$CA" </dev/null
}

@test "usbws connect and list name the certificate, key or CA file they cannot use, and what to do, before a device is bound" {
	fake_sysfs
	URL=wss://localhost:1/usbip
	n=$PKI/node.pem k=$PKI/node.key a=$PKI/ca.pem
	# file                           cert     key                       ca   message
	while IFS='|' read -r CERT KEY CA want; do
		for cmd in connect list; do
			if [ "$cmd" = connect ]; then
				link connect --url "$URL" --busid 1-1
			else
				link list --remote "$URL" --json
			fi
			echo "usbws $cmd --cert $CERT --key $KEY --ca $CA: $status: $output"
			[ "$status" -eq 2 ]
			[ "$output" = "usbws $cmd: $want" ]
		done
	done <<EOF
$n|/nonexistent/node.key|$a|cannot read the private key /nonexistent/node.key (--key): No such file or directory
/nonexistent/node.pem|$k|$a|cannot read the certificate /nonexistent/node.pem (--cert): No such file or directory
$n|$k|/nonexistent/ca.pem|cannot read the CA certificate /nonexistent/ca.pem (--ca): No such file or directory
$n|$WORK|$a|cannot read the private key $WORK (--key): Is a directory
$WORK/junk.txt|$k|$a|the certificate $WORK/junk.txt (--cert) is not a PEM certificate (no start line): give the file that begins with -----BEGIN CERTIFICATE-----
$n|$WORK/junk.txt|$a|the private key $WORK/junk.txt (--key) is not an unencrypted PEM private key (unsupported): give the file that begins with -----BEGIN PRIVATE KEY----- (no passphrase is asked for)
$n|$WORK/encrypted.key|$a|the private key $WORK/encrypted.key (--key) is not an unencrypted PEM private key (bad decrypt): give the file that begins with -----BEGIN PRIVATE KEY----- (no passphrase is asked for)
$n|$PKI/node2.key|$a|the private key $PKI/node2.key (--key) does not belong to the certificate $n (--cert): give the key the certificate was made for
$n|$k|$WORK/junk.txt|the CA certificate $WORK/junk.txt (--ca) holds no PEM certificate (no certificate or crl found): give the CA's certificate, the file that begins with -----BEGIN CERTIFICATE-----
EOF
	# refused before anything was done: 1-1 was never given to usbip-host
	[ ! -s "$USBWS_SYSFS_ROOT/bus/usb/drivers/usbip-host/match_busid" ]
	[ ! -s "$USBWS_SYSFS_ROOT/bus/usb/drivers/usb/unbind" ]
}

@test "a key only root may read: the node says so, and how to get past it" {
	[ "$(id -u)" = 0 ] || skip "needs root, to run as another user"
	chmod 0755 "$WORK"
	cp "$PKI/node.pem" "$PKI/node.key" "$PKI/ca.pem" "$WORK/"
	chmod 0644 "$WORK/node.pem" "$WORK/ca.pem"
	chmod 0600 "$WORK/node.key"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$USBWS" list --remote wss://localhost:1/usbip --json \
		--cert "$WORK/node.pem" --key "$WORK/node.key" --ca "$WORK/ca.pem"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws list: cannot read the private key $WORK/node.key (--key): Permission denied (run as a user that may read it)" ]
}

@test "usbws-proxy names the certificate, key, CA or CRL file it cannot use before it starts anything" {
	s=$PKI/server.pem k=$PKI/server.key a=$PKI/ca.pem
	while IFS='|' read -r CERT KEY CA CRL want; do
		run "$PROXY" --listen 127.0.0.1:0 --cert "$CERT" --key "$KEY" --ca "$CA" ${CRL:+--crl "$CRL"} </dev/null
		echo "--cert $CERT --key $KEY --ca $CA --crl $CRL: $status: $output"
		[ "$status" -eq 2 ]
		[ "$output" = "usbws-proxy: $want" ]
	done <<EOF
$s|/nonexistent/server.key|$a||cannot read the private key /nonexistent/server.key (--key): No such file or directory
/nonexistent/server.pem|$k|$a||cannot read the certificate /nonexistent/server.pem (--cert): No such file or directory
$s|$k|/nonexistent/ca.pem||cannot read the CA certificate /nonexistent/ca.pem (--ca): No such file or directory
$s|$k|$a|/nonexistent/ca.crl|cannot read the CRL /nonexistent/ca.crl (--crl): No such file or directory
$s|$PKI/node.key|$a||the private key $PKI/node.key (--key) does not belong to the certificate $s (--cert): give the key the certificate was made for
$WORK/junk.txt|$k|$a||the certificate $WORK/junk.txt (--cert) is not a PEM certificate (no start line): give the file that begins with -----BEGIN CERTIFICATE-----
$s|$WORK/junk.txt|$a||the private key $WORK/junk.txt (--key) is not an unencrypted PEM private key (unsupported): give the file that begins with -----BEGIN PRIVATE KEY----- (no passphrase is asked for)
$s|$k|$WORK/junk.txt||the CA certificate $WORK/junk.txt (--ca) holds no PEM certificate (no certificate or crl found): give the CA's certificate, the file that begins with -----BEGIN CERTIFICATE-----
EOF
	# nothing was made: not even the control socket
	[ ! -e "$USBWS_RUN_DIR/proxy.sock" ]
}

@test "a URL that is not wss://HOST[:PORT]/PATH is refused at once with what is wrong in it" {
	CERT=$PKI/node.pem KEY=$PKI/node.key CA=$PKI/ca.pem
	e="expected wss://HOST[:PORT]/usbip"
	while IFS='|' read -r url want; do
		link connect --url "$url" --virtual sourcesink
		echo "connect --url $url: $status: $output"
		[ "$status" -eq 2 ]
		[ "$output" = "usbws connect: --url $url: $want" ]
		link list --remote "$url" --json
		[ "$status" -eq 2 ]
		[ "$output" = "usbws list: --remote $url: $want" ]
	done <<EOF
http://localhost:1/usbip|the scheme is wss:// (a WebSocket over TLS), not http:// or https://: $e
ws://localhost:1/usbip|ws:// is not encrypted, and usbws-proxy speaks only TLS: $e
localhost:1/usbip|no scheme: $e
wss://:1/usbip|no host: $e
wss://localhost:0/usbip|the port is not a number from 1 to 65535: $e
wss://localhost:65536/usbip|the port is not a number from 1 to 65535: $e
wss://localhost:https/usbip|the port is not a number from 1 to 65535: $e
wss://::1:8443/usbip|an IPv6 address goes in brackets: wss://[ADDRESS]:PORT/usbip
wss://node@localhost/usbip|it names a user (user@): the node proves who it is with --cert, not in the URL; $e
EOF
}

@test "a URL without a path reaches the proxy's /usbip; another path is refused, saying which path the proxy serves" {
	start_proxy "$WORK/proxy.log" server --vhci none
	URL=wss://localhost:$WSS_PORT
	start_node "$WORK/node.log" node sourcesink
	grep -q "connected to wss://localhost:$WSS_PORT$" "$WORK/node.log"
	"$USBWS" list --remote "wss://localhost:$WSS_PORT/" --json --cert "$PKI/node.pem" --key "$PKI/node.key" \
		--ca "$PKI/ca.pem" 2>/dev/null >"$WORK/list.json"
	[ "$(jq -r '.nodes[0].devices[0].busid' "$WORK/list.json")" = "$BUSID" ]
	run "$USBWS" connect --url "wss://localhost:$WSS_PORT/usbws" --cert "$PKI/node2.pem" --key "$PKI/node2.key" \
		--ca "$PKI/ca.pem" --virtual sourcesink
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws: error: wss://localhost:$WSS_PORT/usbws closed the connection without answering the WebSocket upgrade to /usbws: usbws-proxy serves only the path /usbip (--url wss://localhost:$WSS_PORT/usbip)"* ]]
	[[ "$output" == *"usbws: error: not retrying: the same connection would be refused again"* ]]
	grep -q "refused a WebSocket upgrade from 127.0.0.1:[0-9]* to '/usbws'" "$WORK/proxy.log"
}

@test "an address in use: each listener of usbws-proxy, and usbws serve, says which and what to do" {
	start_proxy "$WORK/proxy.log" server --vhci none
	other() {
		USBWS_RUN_DIR=$WORK/run2 run "$PROXY" --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" \
			--vhci none "$@"
	}
	in_use="Address already in use (is another usbws-proxy running? stop it, or give"
	other --listen "127.0.0.1:$WSS_PORT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: cannot listen on 127.0.0.1:$WSS_PORT (--listen): $in_use --listen another port)"* ]]
	other --listen 127.0.0.1:0 --usbip-listen "127.0.0.1:$USBIP_PORT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: cannot listen on 127.0.0.1:$USBIP_PORT (--usbip-listen): $in_use --usbip-listen another port)"* ]]
	other --listen 127.0.0.1:0 --balancer-listen "127.0.0.1:$WSS_PORT" --trusted-balancer 127.0.0.1
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: cannot listen on 127.0.0.1:$WSS_PORT (--balancer-listen): $in_use --balancer-listen another port)"* ]]
	# an address no interface has
	other --listen 192.0.2.1:0
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: cannot listen on 192.0.2.1:0 (--listen): Cannot assign requested address (no interface of this host has that address)"* ]]
	run "$USBWS" serve --listen "127.0.0.1:$USBIP_PORT" --virtual sourcesink
	[ "$status" -eq 1 ]
	[ "$output" = "usbws serve: cannot listen on 127.0.0.1:$USBIP_PORT (--listen): Address already in use (is usbipd or another usbws serve listening there? stop it, or give another port)" ]
}

@test "a port below 1024 as a user without the right: the proxy says what it needs" {
	[ "$(id -u)" = 0 ] || skip "needs root, to run as another user"
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 443 ] ||
		skip "net.ipv4.ip_unprivileged_port_start lets anyone bind port 443 here"
	chmod 0755 "$WORK"
	chmod a+r "$PKI"/server.key
	chmod a+rx "$PKI"
	mkdir "$WORK/nobody-run"
	chown nobody "$WORK/nobody-run"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups env USBWS_RUN_DIR="$WORK/nobody-run" "$PROXY" \
		--listen 127.0.0.1:443 --cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" --vhci none
	[ "$status" -eq 1 ]
	[[ "$output" == *"usbws-proxy: error: cannot listen on 127.0.0.1:443 (--listen): Permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)"* ]]
}
