#!/usr/bin/env bats
# doc/pki.md, word for word: its sh blocks make a fleet CA with easy-rsa,
# the proxy's certificate, enroll nodes and revoke one, run as written in
# a shell per machine (the CA machine, the proxy host, each node: a
# directory of the test each), with only the values of its pki-vars
# block changed; then real processes use what they made.  Run as root: the
# recipe installs files for root and for the user usbws, and the proxy runs
# as usbws from the start, as its unit does.

load helpers

# the sh blocks doc/pki.md must hold, in this order, each once
BLOCKS="pki-vars pki-ca pki-proxy-cert pki-proxy-install pki-enroll pki-node-install pki-revoke pki-crl-install"

setup() {
	usbws_setup
	MADE_USER= MADE_GROUP=
	R=$WORK/recipe
	CA=$WORK/ca-machine
	HOST=$WORK/proxy-host
	PETC=$HOST/etc
	mkdir -p "$R" "$CA" "$HOST" "$WORK/bin"
	# the values of this test's site: nothing of it is under /etc or /root
	SITE=("EASYRSA_PKI=$CA/pki" "PROXY_NAME=localhost" "PROXY_SAN=DNS:localhost,IP:127.0.0.1" "ETC=$WORK/nowhere")
}

teardown() {
	usbws_teardown
	[ -z "$MADE_USER" ] || userdel usbws 2>/dev/null || true
	[ -z "$MADE_GROUP" ] || groupdel usbws 2>/dev/null || true
}

# recipe: each ```sh block of doc/pki.md into $R/NAME.sh, NAME from its
# info string ("```sh NAME"); fails unless they are exactly $BLOCKS
recipe() {
	awk -v dir="$R" '
		inside && /^```/ { inside = 0; close(file); next }
		inside { print >file; next }
		/^```sh([ \t]|$)/ {
			inside = 1; n++
			name = NF > 1 ? $2 : "unnamed-" n
			file = dir "/" name ".sh"
			print name
			printf "" >file
		}
	' "$BATS_TEST_DIRNAME/../../doc/pki.md" >"$R/names"
	echo "sh blocks of doc/pki.md: $(tr '\n' ' ' <"$R/names")"
	[ "$(tr '\n' ' ' <"$R/names")" = "$BLOCKS " ]
}

# on DIR VAR=VALUE... -- BLOCK...: a fresh root shell in DIR, as an operator
# pastes into it: pki-vars as written, this machine's values for variables
# pki-vars sets (no other may be given), then each BLOCK as written.
# `systemctl` there is the stand-in of stand_in_systemd.
on() {
	local dir=$1 script
	shift
	script="$(cat "$R/pki-vars.sh")"$'\n'
	while [ "$1" != -- ]; do
		grep -qE "^(export )?${1%%=*}=" "$R/pki-vars.sh" || {
			echo "pki-vars sets no ${1%%=*}: the test may change only its values" >&2
			return 1
		}
		script+="${1%%=*}=$(printf '%q' "${1#*=}")"$'\n'
		shift
	done
	shift
	for b; do
		script+="$(cat "$R/$b.sh")"$'\n'
	done
	(cd "$dir" && PATH=$WORK/bin:$PATH bash -eu -o pipefail -c "$script")
}

# carry TO FILE...: what an operator copies between machines (scp), flat
carry() {
	local to=$1
	shift
	cp "$@" "$to/"
}

# usbws_user: the user usbws, as make install makes it; made here when
# missing, and removed afterwards
usbws_user() {
	[ "$(id -u)" = 0 ] || skip "needs root: the recipe installs files for root and usbws"
	command -v useradd >/dev/null || skip "useradd is missing (apt-get install passwd)"
	getent passwd usbws >/dev/null && return 0
	if ! getent group usbws >/dev/null; then
		groupadd --system usbws
		MADE_GROUP=1
	fi
	useradd --system --gid usbws --no-create-home --home-dir /var/lib/usbws --shell /usr/sbin/nologin usbws
	MADE_USER=1
}

# stand_in_systemd: `systemctl reload usbws-proxy` does what the unit's
# ExecReload does, to this test's proxy; any other use fails
stand_in_systemd() {
	cat >"$WORK/bin/systemctl" <<EOF
#!/bin/sh
[ "\$*" = "reload usbws-proxy" ] || { echo "systemctl stand-in: not expected: \$*" >&2; exit 1; }
exec kill -HUP "\$(cat "$WORK/proxy.pid")"
EOF
	chmod +x "$WORK/bin/systemctl"
}

# site: the recipe up to two enrolled nodes, as doc/pki.md says: the CA;
# the proxy's certificate, installed on the proxy host; gw-17 and gw-18
# enrolled and installed on their nodes ($WORK/gw-17, $WORK/gw-18)
site() {
	[ -x /usr/share/easy-rsa/easyrsa ] || skip "easy-rsa is not installed (scripts/deps test)"
	usbws_user
	recipe
	stand_in_systemd
	# the proxy and the nodes become usbws, and must reach their files
	chmod 0711 "$WORK"
	on "$CA" "${SITE[@]}" -- pki-ca pki-proxy-cert
	carry "$HOST" "$CA/pki/ca.crt" "$CA/pki/crl.pem" "$CA/pki/issued/localhost.crt" "$CA/pki/private/localhost.key"
	on "$HOST" "${SITE[@]}" "ETC=$PETC" -- pki-proxy-install
	enroll gw-17 "$WORK/gw-17"
	enroll gw-18 "$WORK/gw-18"
}

# enroll NODE DIR: the CA enrolls NODE, DIR is the node that installs it
enroll() {
	mkdir -p "$2"
	on "$CA" "${SITE[@]}" "NODE=$1" -- pki-enroll
	carry "$2" "$CA/pki/ca.crt" "$CA/pki/issued/$1.crt" "$CA/pki/private/$1.key"
	on "$2" "${SITE[@]}" "NODE=$1" "ETC=$2/etc" -- pki-node-install
}

# start_unit_proxy: usbws-proxy as its unit runs it, the user usbws from
# the start, on the files the recipe installed; sets WSS_PORT, USBIP_PORT
start_unit_proxy() {
	local log=$WORK/proxy.log
	PROXY_RUN=$HOST/run
	mkdir -p "$PROXY_RUN" "$WORK/gcov"
	chown usbws:usbws "$PROXY_RUN" "$WORK/gcov"
	: >"$log"
	# a coverage build's counters go where usbws may write them
	USBWS_RUN_DIR=$PROXY_RUN GCOV_PREFIX=$WORK/gcov \
		setpriv --reuid usbws --regid "$(id -g usbws)" --init-groups "$(PROXY_BIN)" \
		--listen 127.0.0.1:0 --usbip-listen 127.0.0.1:0 --cert "$PETC/proxy.pem" --key "$PETC/proxy.key" \
		--ca "$PETC/nodes-ca.pem" --crl "$PETC/nodes-ca.crl" 2>"$log" &
	PROXY_PID=$!
	PIDS+=($!)
	echo "$PROXY_PID" >"$WORK/proxy.pid"
	proxy_listening "$log"
}

# start_unit_node NODE DIR URL SPEC: usbws connect as its unit runs it (root,
# then --user usbws) on the files the recipe installed in DIR/etc; sets
# NODE_PID and BUSID
start_unit_node() {
	local log=$WORK/$1.log
	: >"$log"
	USBWS_RUN_DIR=$2/run "$USBWS" connect --url "$3" --cert "$2/etc/node.pem" --key "$2/etc/node.key" \
		--ca "$2/etc/proxy-ca.pem" --virtual "$4" --user usbws 2>"$log" &
	NODE_PID=$!
	PIDS+=($NODE_PID)
	node_exported "$log"
}

# serial FILE: a certificate's serial in hex, as the proxy logs it
serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }

# owner FILE: owner, group and mode, as the recipe's table gives them
owner() { stat -c '%U %G %a' "$1"; }

@test "doc/pki.md holds the recipe: its sh blocks, each once, in order; pki-vars sets the site's values" {
	recipe
	for b in $BLOCKS; do
		[ -s "$R/$b.sh" ]
	done
	# the one place to edit: every value an operator sets
	[ "$(sed -n 's/^\(export \)\{0,1\}\([A-Z_]*\)=.*/\2/p' "$R/pki-vars.sh" | tr '\n' ' ')" = \
		"EASYRSA_PKI PROXY_NAME PROXY_SAN NODE ETC PATH " ]
}

@test "the recipe, word for word: two nodes enrolled and known by their names; one revoked is cut off and refused, the other goes on; its name enrolled again gets in" {
	site
	start_unit_proxy
	grep -qF "checking node certificates against 1 CRL file (0 revoked serials)" "$WORK/proxy.log"
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$PROXY_PID/status")" = "$(id -u usbws)" ]
	random_image "$WORK/disk.img" 4
	chown usbws "$WORK/disk.img"

	# the proxy's certificate names localhost and 127.0.0.1: nodes dial either
	start_unit_node gw-17 "$WORK/gw-17" "wss://localhost:$WSS_PORT/usbip" sourcesink
	gw17=$NODE_PID
	grep -qF "on the proxy, which knows this node as gw-17" "$WORK/gw-17.log"
	grep -qF "running as usbws (uid $(id -u usbws))" "$WORK/gw-17.log"
	url18=wss://127.0.0.1:$WSS_PORT/usbip
	start_unit_node gw-18 "$WORK/gw-18" "$url18" "storage:$WORK/disk.img"
	busid18=$BUSID
	grep -qF "on the proxy, which knows this node as gw-18" "$WORK/gw-18.log"
	grep -qE "node gw-17 exported .*as busid gw-17-" "$WORK/proxy.log"
	grep -qE "node gw-18 exported .*as busid gw-18-" "$WORK/proxy.log"
	run env USBWS_RUN_DIR="$PROXY_RUN" "$USBWS" nodes --json
	[ "$status" -eq 0 ]
	[ "$(grep -v '^usbws:' <<<"$output" | jq -c '[.nodes[].node] | sort')" = '["gw-17","gw-18"]' ]

	# a reader on gw-18 all through the revocation
	"$CLIENT" --port "$USBIP_PORT" --urb 4096 --inflight 1 127.0.0.1 read-disk "$busid18" "$WORK/read.img" \
		>"$WORK/client.out" 2>&1 &
	client=$!
	PIDS+=($client)

	serial17=$(serial "$WORK/gw-17/etc/node.pem")
	on "$CA" "${SITE[@]}" NODE=gw-17 -- pki-revoke
	carry "$HOST" "$CA/pki/crl.pem"
	on "$HOST" "${SITE[@]}" "ETC=$PETC" -- pki-crl-install
	wait_for "$WORK/proxy.log" "reloaded: new handshakes use the new CRLs; 1 tunnel ended as revoked"
	grep -qF "node gw-17: certificate revoked (serial $serial17, subject CN=gw-17); cutting off its connection" \
		"$WORK/proxy.log"
	rc=0
	wait "$gw17" || rc=$?
	cat "$WORK/gw-17.log"
	[ "$rc" -eq 1 ]
	grep -qF "the proxy refused: this node's certificate has been revoked (revoked)" "$WORK/gw-17.log"

	# and it does not get back in
	url17=wss://localhost:$WSS_PORT/usbip
	run timeout 20 env USBWS_RUN_DIR="$WORK/gw-17/run" "$USBWS" connect --url "$url17" \
		--cert "$WORK/gw-17/etc/node.pem" --key "$WORK/gw-17/etc/node.key" --ca "$WORK/gw-17/etc/proxy-ca.pem" \
		--virtual sourcesink --connect-timeout 5
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy at $url17 refused this node's certificate: sslv3 alert certificate revoked"* ||
	   "$output" == *"the proxy at $url17 closed the connection right after the TLS handshake"* ]]
	[[ "$output" == *"not retrying: the same connection would be refused again"* ]]
	wait_for "$WORK/proxy.log" "$(re "client certificate rejected: certificate revoked (subject CN=gw-17, serial $serial17); a node needs a certificate signed by --ca, valid now and not revoked")"

	# gw-18 never noticed: its disk reads back whole, and a new handshake of
	# it passes the new CRL
	wait "$client"
	cmp "$WORK/disk.img" "$WORK/read.img"
	absent "lost the proxy|refused" "$WORK/gw-18.log"
	absent "node gw-18: certificate revoked|node gw-18 disconnected" "$WORK/proxy.log"
	run env USBWS_RUN_DIR="$WORK/gw-18/run" "$USBWS" list --remote "$url18" --json \
		--cert "$WORK/gw-18/etc/node.pem" --key "$WORK/gw-18/etc/node.key" --ca "$WORK/gw-18/etc/proxy-ca.pem"
	[ "$status" -eq 0 ]
	[ "$(grep -v '^usbws:' <<<"$output" | jq -r '[.nodes[] | select(.node == "gw-18") | .devices[] | .state] | join(" ")')" = exported ]

	# the device that replaces gw-17 takes its name: enrolled again, a new
	# serial, and in
	enroll gw-17 "$WORK/gw-17b"
	[ "$(serial "$WORK/gw-17b/etc/node.pem")" != "$serial17" ]
	start_unit_node gw-17b "$WORK/gw-17b" "$url17" sourcesink
	grep -qF "on the proxy, which knows this node as gw-17" "$WORK/gw-17b.log"
}

@test "the recipe's files: P-256 keys, the proxy's names, owners and modes as doc/pki.md's table; the proxy's certificate is no node's" {
	site
	for key in "$CA/pki/private/ca.key" "$PETC/proxy.key" "$WORK/gw-17/etc/node.key"; do
		openssl pkey -in "$key" -noout -text | grep -qx "ASN1 OID: prime256v1"
	done
	openssl x509 -in "$PETC/proxy.pem" -noout -ext subjectAltName | grep -qx "    DNS:localhost, IP Address:127.0.0.1"
	[ "$(openssl x509 -in "$WORK/gw-17/etc/node.pem" -noout -subject)" = "subject=CN = gw-17" ]
	[ "$(owner "$PETC/nodes-ca.pem")" = "root root 644" ]
	[ "$(owner "$PETC/nodes-ca.crl")" = "root root 644" ]
	[ "$(owner "$PETC/proxy.pem")" = "root root 644" ]
	[ "$(owner "$PETC/proxy.key")" = "usbws root 400" ]
	[ "$(owner "$WORK/gw-17/etc/proxy-ca.pem")" = "root root 644" ]
	[ "$(owner "$WORK/gw-17/etc/node.pem")" = "root root 644" ]
	[ "$(owner "$WORK/gw-17/etc/node.key")" = "root root 600" ]
	# the keys were carried, installed, and their carried copies removed
	[ ! -e "$HOST/localhost.key" ]
	[ ! -e "$WORK/gw-17/gw-17.key" ]
	# usbws, which the node becomes, cannot read the node's key
	run setpriv --reuid usbws --regid "$(id -g usbws)" --init-groups cat "$WORK/gw-17/etc/node.key"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Permission denied"* ]]

	# one CA signs both sides: the proxy's certificate (serverAuth only)
	# does not pass for a node's
	start_unit_proxy
	run timeout 20 "$USBWS" connect --url "wss://localhost:$WSS_PORT/usbip" --cert "$PETC/proxy.pem" \
		--key "$PETC/proxy.key" --ca "$PETC/nodes-ca.pem" --virtual sourcesink --connect-timeout 5
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the proxy at wss://localhost:$WSS_PORT/usbip refused this node's certificate: sslv3 alert unsupported certificate"* ]]
	wait_for "$WORK/proxy.log" "$(re "client certificate rejected: unsuitable certificate purpose (subject CN=localhost, serial $(serial "$PETC/proxy.pem")); a node needs a certificate signed by --ca, valid now and not revoked")"
	absent "node localhost" "$WORK/proxy.log"
}
