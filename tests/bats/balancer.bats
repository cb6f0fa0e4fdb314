#!/usr/bin/env bats
# Past one host (doc/fleet.md): three usbws-proxy behind a real HAProxy,
# which runs doc/haproxy.cfg as it is, and twenty nodes that reach it
# through tests/tcprelay, so their links can be cut.  HAProxy ends the TLS
# and hashes on the certificate's CN; each proxy takes the node's identity
# from the certificate HAProxy forwards, and from nowhere else.  The cases
# run in order on one setup: the last one kills a proxy.

load helpers

NODES=20
# fast keepalive, so that a cut link is noticed within seconds; the
# backoff bounds how long a node of a dead proxy takes to come back
FAST=(--ping-interval 1 --ping-timeout 3)
NODE_ARGS=(--ping-interval 1 --ping-timeout 3 --connect-timeout 2 --backoff-max 2)
DOC=$BATS_TEST_DIRNAME/../../doc

# bg NAME CMD...: CMD in the background, its stderr in $WORK/NAME.log and
# its pid in $WORK/NAME.pid (the cases run in processes of their own: the
# pid files are what teardown_file stops)
bg() {
	local name=$1
	shift
	"$@" 2>"$WORK/$name.log" &
	echo $! >"$WORK/$name.pid"
	# a proxy killed on purpose is no news for the log
	disown $!
}

start_haproxy() {
	# SIGTERM is HAProxy's hard stop: its connections end with it
	USBWS_FRONT=127.0.0.1:$FRONT_PORT USBWS_PKI=$PKI USBWS_P1=127.0.0.1:${BAL_PORT[1]} \
		USBWS_P2=127.0.0.1:${BAL_PORT[2]} USBWS_P3=127.0.0.1:${BAL_PORT[3]} \
		bg haproxy haproxy -f "$DOC/haproxy.cfg" -db
	# its listener is bound before it reads anything
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$FRONT_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$WORK/haproxy.log" >&2
	return 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

setup_file() {
	command -v haproxy >/dev/null || return 0
	usbws_setup
	export WORK USBWS_RUN_DIR USBWS
	pki
	"$BATS_TEST_DIRNAME/../pki.sh" "$PKI" --fleet "$NODES"
	export PKI
	BAL_PORT=()
	for p in 1 2 3; do
		mkdir -p "$WORK/run-p$p"
		USBWS_RUN_DIR=$WORK/run-p$p bg "p$p" "$(PROXY_BIN)" --listen 127.0.0.1:0 \
			--balancer-listen 127.0.0.1:0 --trusted-balancer 127.0.0.1 --vhci none \
			--cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem" "${FAST[@]}"
	done
	for p in 1 2 3; do
		wait_for "$WORK/p$p.log" "listening for nodes through a balancer on" || return 1
		BAL_PORT[p]=$(sed -n 's/.*through a balancer on .*(port \([0-9]*\)).*/\1/p' "$WORK/p$p.log")
	done
	WSS_PORT=$(sed -n 's/.*listening for nodes on .*(port \([0-9]*\)).*/\1/p' "$WORK/p1.log")
	FRONT_PORT=$(free_port)
	export WSS_PORT FRONT_PORT
	echo "${BAL_PORT[*]:1}" >"$WORK/bal-ports"
	start_haproxy || return 1
	bg relay "$USBWS_BUILDDIR/tests/tcprelay" --listen 127.0.0.1:0 --to "127.0.0.1:$FRONT_PORT"
	wait_for "$WORK/relay.log" "^tcprelay: listening on 127\.0\.0\.1:[0-9]+$" || return 1
	RELAY_PORT=$(sed -n 's/^tcprelay: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/relay.log")
	for i in $(seq -w 1 "$NODES"); do
		bg "fleet-$i" "$USBWS" connect --url "wss://localhost:$RELAY_PORT/usbip" --cert "$PKI/fleet-$i.pem" \
			--key "$PKI/fleet.key" --ca "$PKI/ca.pem" --virtual sourcesink "${NODE_ARGS[@]}"
	done
	for i in $(seq -w 1 "$NODES"); do
		wait_for "$WORK/fleet-$i.log" "as busid $ADDR_RE on the proxy" 20 || return 1
	done
	# where each node landed: "fleet-NN P BUSID"
	for i in $(seq -w 1 "$NODES"); do
		for p in 1 2 3; do
			busid=$(sed -n "s/.*node fleet-$i exported 0525:a4a0 (its 1-1) as busid \([^ ]*\),.*/\1/p" \
				"$WORK/p$p.log")
			[ -z "$busid" ] || echo "fleet-$i $p $busid"
		done
	done >"$WORK/map"
}

teardown_file() {
	[ -n "${WORK:-}" ] || return 0
	local f
	for f in "$WORK"/*.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	sleep 0.2
	rm -rf "$WORK"
}

setup() {
	command -v haproxy >/dev/null || skip "haproxy is not installed (scripts/deps test)"
	PROXY_OF=()
	BUSID_OF=()
	while read -r node p busid; do
		PROXY_OF[10#${node#fleet-}]=$p
		BUSID_OF[10#${node#fleet-}]=$busid
	done <"$WORK/map"
}

# count P REGEX: lines of proxy P's log that match
count() { grep -cE "$2" "$WORK/p$1.log" || true; }

# every_node_resumed_at_home N: waits until each node's proxy has logged
# N resumes of it, then checks that no node was exported anew anywhere
every_node_resumed_at_home() {
	local i p
	for i in $(seq 1 "$NODES"); do
		p=${PROXY_OF[i]}
		wait_count "$WORK/p$p.log" "node fleet-$(printf %02d "$i") resumed busid ${BUSID_OF[i]} after" \
			"$1" 20 || return 1
	done
	# one export each, still: nothing came back afresh
	for p in 1 2 3; do
		[ "$(count "$p" "exported 0525:a4a0")" -eq "$(grep -c " $p " "$WORK/map")" ]
	done
}

@test "doc/fleet.md shows doc/haproxy.cfg as it is" {
	diff -u <(awk '/^```haproxy$/ { on = 1; next } /^```$/ { on = 0 } on' "$DOC/fleet.md") "$DOC/haproxy.cfg"
}

@test "the options are checked: a balancer listener goes with trusted addresses, numeric ones" {
	run "$(PROXY_BIN)" --balancer-listen 127.0.0.1:0 --cert x --key x --ca x
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --balancer-listen ADDR:PORT and --trusted-balancer ADDR go together" ]
	run "$(PROXY_BIN)" --trusted-balancer localhost --cert x --key x --ca x
	[ "$status" -eq 2 ]
	[[ "$output" == "usbws-proxy: --trusted-balancer 'localhost' is not a numeric IPv4 or IPv6 address"* ]]
	run "$(PROXY_BIN)" --trusted-balancer 10.1.0.0/8 --cert x --key x --ca x
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --trusted-balancer '10.1.0.0/8': the address has bits set past the /8 prefix" ]
}

@test "twenty nodes spread over three proxies, each node on one" {
	[ "$(wc -l <"$WORK/map")" -eq "$NODES" ]
	for p in 1 2 3; do
		echo "p$p: $(grep -c " $p " "$WORK/map") nodes"
		[ "$(grep -c " $p " "$WORK/map")" -ge 1 ]
	done
	# each proxy named the node by the certificate HAProxy forwarded
	for i in $(seq -w 1 "$NODES"); do
		grep -q "which knows this node as fleet-$i$" "$WORK/fleet-$i.log"
	done
}

@test "a cut link: every node resumes its session on the same proxy" {
	kill -HUP "$(cat "$WORK/relay.pid")"
	for i in $(seq -w 1 "$NODES"); do
		wait_for "$WORK/fleet-$i.log" "lost the proxy" 10
	done
	kill -USR2 "$(cat "$WORK/relay.pid")"
	every_node_resumed_at_home 1
	for i in $(seq -w 1 "$NODES"); do
		wait_for "$WORK/fleet-$i.log" "resumed session with the proxy" 10
	done
}

@test "HAProxy restarted: every node resumes on the same proxy" {
	kill "$(cat "$WORK/haproxy.pid")"
	while kill -0 "$(cat "$WORK/haproxy.pid")" 2>/dev/null; do sleep 0.05; done
	read -r -a ports <"$WORK/bal-ports"
	BAL_PORT=([1]=${ports[0]} [2]=${ports[1]} [3]=${ports[2]})
	start_haproxy
	every_node_resumed_at_home 2
}

@test "an identity header from outside --trusted-balancer is refused, and logged" {
	read -r -a ports <"$WORK/bal-ports"
	cert=$(openssl x509 -in "$PKI/fleet-01.pem" -outform DER | base64 -w0)
	# straight to a balancer listener, from another address than HAProxy's
	run curl -sS --max-time 5 --interface 127.0.0.2 -H "X-Usbws-Client-Cert: $cert" \
		-H "X-Usbws-Identity: fleet-01" "http://127.0.0.1:${ports[0]}/usbip"
	[ "$status" -ne 0 ]
	wait_for "$WORK/p1.log" "warning: --balancer-listen 127\.0\.0\.1:0: refused a connection from 127\.0\.0\.2:[0-9]+: not a --trusted-balancer$"
	# over TLS to --listen, with a certificate of the fleet
	run "$USBWS_BUILDDIR/tests/wspeer" --url "wss://localhost:$WSS_PORT/usbip" --cert "$PKI/fleet-02.pem" \
		--key "$PKI/fleet.key" --ca "$PKI/ca.pem" --header "X-Usbws-Client-Cert: $cert" \
		--header "X-Usbws-Identity: fleet-01" --timeout 5 --text '{"type":"hello","version":1,"role":"list"}'
	[ "$status" -eq 1 ]
	grep -qE "refused a WebSocket upgrade from 127\.0\.0\.1:[0-9]+: it carries an X-Usbws-Client-Cert or X-Usbws-Identity header on --listen; only a --trusted-balancer may, on --balancer-listen$" \
		"$WORK/p1.log"
	absent "fleet-01 asked for the listing" "$WORK/p1.log"
}

@test "a node that forges the headers through HAProxy is still itself" {
	cert=$(openssl x509 -in "$PKI/fleet-01.pem" -outform DER | base64 -w0)
	run "$USBWS_BUILDDIR/tests/wspeer" --url "wss://localhost:$FRONT_PORT/usbip" --cert "$PKI/fleet-02.pem" \
		--key "$PKI/fleet.key" --ca "$PKI/ca.pem" --header "X-Usbws-Client-Cert: $cert" \
		--header "X-Usbws-Identity: fleet-01" --header "X-Forwarded-For: 203.0.113.9" --timeout 5 \
		--text '{"type":"hello","version":1,"role":"list"}'
	echo "$output"
	[ "$status" -eq 0 ]
	# fleet-02's own listing, from fleet-02's own proxy
	[[ "$output" == *'{"node":"fleet-02","devices":[{'* ]]
	[[ "$output" != *fleet-01* ]]
	grep -q "^usbws-proxy: info: fleet-02 asked for the listing$" "$WORK/p${PROXY_OF[2]}.log"
	for p in 1 2 3; do
		absent "fleet-01 asked for the listing" "$WORK/p$p.log"
	done
	# HAProxy's X-Forwarded-For replaced the forged one
	USBWS_RUN_DIR=$WORK/run-p${PROXY_OF[2]} run "$USBWS" nodes --json
	[[ "$output" != *203.0.113.9* ]]
}

@test "a proxy killed: its nodes export again on the others within the backoff" {
	victim=${PROXY_OF[1]}
	kill -KILL "$(cat "$WORK/p$victim.pid")"
	SECONDS=0
	for i in $(seq 1 "$NODES"); do
		[ "${PROXY_OF[i]}" = "$victim" ] || continue
		n=$(printf %02d "$i")
		# a resume refused, then a fresh export (on the same connection
		# or on a new one), under the same address, as it follows the node
		found=
		for _ in $(seq 200); do
			for p in 1 2 3; do
				[ "$p" = "$victim" ] && continue
				grep -q "node fleet-$n exported 0525:a4a0 (its 1-1) as busid ${BUSID_OF[i]}," \
					"$WORK/p$p.log" && found=$p
			done
			[ -n "$found" ] && break
			sleep 0.1
		done
		echo "fleet-$n: p$victim -> p${found:-?}"
		[ -n "$found" ]
	done
	echo "all back after $SECONDS s"
	# --backoff-max 2, HAProxy's fall 2 x inter 1s, and a margin
	[ "$SECONDS" -le 12 ]
	# the other proxies' nodes never noticed
	for i in $(seq 1 "$NODES"); do
		p=${PROXY_OF[i]}
		[ "$p" = "$victim" ] && continue
		[ "$(count "$p" "node fleet-$(printf %02d "$i") exported")" -eq 1 ]
	done
}
