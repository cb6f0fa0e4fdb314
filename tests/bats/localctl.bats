#!/usr/bin/env bats
# Local control for a group: proxy.sock and the nodes' connect-*.sock are
# 0660 in a 0750 run directory, both of group usbws.  A member steers the
# devices as root does; any other local user is refused with a sentence
# that says whose they are.  Run as root: it makes the group (when
# missing) and two throwaway users, and removes what it made.

load helpers

setup() {
	usbws_setup
	pki
	IN_USER= OUT_USER= MADE_GROUP=
}

teardown() {
	usbws_teardown
	[ -z "$IN_USER" ] || userdel "$IN_USER" 2>/dev/null || true
	[ -z "$OUT_USER" ] || userdel "$OUT_USER" 2>/dev/null || true
	[ -z "$MADE_GROUP" ] || groupdel usbws 2>/dev/null || true
}

# users: the group usbws, made if missing; IN_USER in it, OUT_USER not;
# $WORK opened for them to reach the run directory and the images
users() {
	command -v useradd >/dev/null || skip "useradd is missing (apt-get install passwd)"
	[ "$(id -u)" = 0 ] || skip "needs root, to make the group and the users"
	if ! getent group usbws >/dev/null; then
		groupadd --system usbws
		MADE_GROUP=1
	fi
	IN_USER=usbws-bats-in-$$
	OUT_USER=usbws-bats-out-$$
	useradd --system --no-create-home --shell /usr/sbin/nologin --groups usbws "$IN_USER"
	useradd --system --no-create-home --shell /usr/sbin/nologin "$OUT_USER"
	chmod 0711 "$WORK"
}

# as USER CMD...: CMD as USER, with USER's groups from /etc/group.  A
# coverage build's counters go where that user may write them: the build
# tree's .gcda files are root's, and gcov would complain on stderr.
as() {
	local u=$1
	shift
	mkdir -p "$WORK/gcov/$u"
	chown "$u" "$WORK/gcov/$u"
	setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups env GCOV_PREFIX="$WORK/gcov/$u" "$@"
}

# shows PATH: mode and group, as stat prints them
shows() { stat -c '%a %G' "$1"; }

refused() { echo "(it belongs to group usbws: add this user to it, or run as root)"; }

@test "proxy.sock is 0660 in a 0750 directory, both group usbws: a member gets root's answer, anyone else a clear refusal" {
	users
	start_proxy "$WORK/proxy.log" server --vhci none
	[ "$(shows "$USBWS_RUN_DIR")" = "750 usbws" ]
	[ "$(shows "$USBWS_RUN_DIR/proxy.sock")" = "660 usbws" ]
	absent "only its owner and root may use it" "$WORK/proxy.log"

	run as "$OUT_USER" "$USBWS" port
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot reach $USBWS_RUN_DIR/proxy.sock: Permission denied $(refused)" ]
	run as "$OUT_USER" "$USBWS" detach --port 3
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot reach $USBWS_RUN_DIR/proxy.sock: Permission denied $(refused)" ]

	"$USBWS" port --json >"$WORK/root.json"
	"$USBWS" port >"$WORK/root.txt"
	as "$IN_USER" "$USBWS" port --json >"$WORK/member.json"
	as "$IN_USER" "$USBWS" port >"$WORK/member.txt"
	jq -e '.vhci == false' "$WORK/root.json" >/dev/null
	cmp "$WORK/root.json" "$WORK/member.json"
	cmp "$WORK/root.txt" "$WORK/member.txt"
	# and the member's detach reaches the proxy, which answers it
	run as "$IN_USER" "$USBWS" detach --port 3
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: port 3 is not attached by this proxy (see usbws port)" ]

	# a socket only its owner may use (the directory open): the refusal says so
	chmod 0600 "$USBWS_RUN_DIR/proxy.sock"
	run as "$IN_USER" "$USBWS" port
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot reach $USBWS_RUN_DIR/proxy.sock: Permission denied (only root may use it: run as root)" ]
}

@test "a node's connect socket: a member sees and disconnects the tunnel, anyone else is refused" {
	users
	random_image "$WORK/disk.img" 1
	start_proxy "$WORK/proxy.log" server --vhci none
	start_node "$WORK/node.log" node "storage:$WORK/disk.img"
	sock=$(echo "$USBWS_RUN_DIR"/connect-virtual-*.sock)
	name=${sock##*/connect-}
	name=${name%.sock}
	[ "$(shows "$sock")" = "660 usbws" ]
	[ "$(shows "$USBWS_RUN_DIR")" = "750 usbws" ]

	run as "$OUT_USER" "$USBWS" status
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot list the control sockets in $USBWS_RUN_DIR: Permission denied $(refused)" ]
	run as "$OUT_USER" "$USBWS" status --json
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot list the control sockets in $USBWS_RUN_DIR: Permission denied $(refused)" ]
	run as "$OUT_USER" "$USBWS" disconnect --busid "$name"
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot reach $sock: Permission denied $(refused)" ]

	# the member's answer is root's (but for the seconds the tunnel has been up and exported)
	steady='del(.tunnels[].uptime_seconds, .tunnels[].exported_seconds)'
	"$USBWS" status --json | jq "$steady" >"$WORK/root.json"
	as "$IN_USER" "$USBWS" status --json | jq "$steady" >"$WORK/member.json"
	jq -e '.tunnels | length == 1 and .[0].state == "exported"' "$WORK/root.json" >/dev/null
	cmp "$WORK/root.json" "$WORK/member.json"
	run as "$IN_USER" "$USBWS" status
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^BUSID\ +VID:PID\ +KIND\ +STATE\ +PROXY\ BUSID\ +UP\ +URBS\ +FROM\ PROXY\ +TO\ PROXY\ +URL$ ]]
	[[ "${lines[1]}" =~ ^1-1\ +0525:a4a5\ +virtual\ +exported\ +$ADDR_RE\ + ]]

	# a socket of a user's own, in the shared directory: status names it, and fails
	chmod 0600 "$sock"
	run as "$IN_USER" "$USBWS" status
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: cannot reach $sock: Permission denied (only root may use it: run as root)" ]
	chmod 0660 "$sock"

	run as "$IN_USER" "$USBWS" disconnect --busid "$name"
	[ "$status" -eq 0 ]
	[ "$output" = "disconnected $name" ]
	wait "$NODE_PID"
	[ ! -e "$sock" ]
}

@test "with --user the sockets stay the group's; what the dropped process leaves is stale, and replaced" {
	users
	chmod 0755 "$WORK"
	start_proxy "$WORK/proxy.log" server --vhci none --user nobody
	start_node "$WORK/node.log" node sourcesink --user nobody
	grep -q "running as nobody" "$WORK/proxy.log"
	grep -q "running as nobody" "$WORK/node.log"
	sock=$(echo "$USBWS_RUN_DIR"/connect-virtual-*.sock)
	[ "$(shows "$sock")" = "660 usbws" ]
	[ "$(shows "$USBWS_RUN_DIR/proxy.sock")" = "660 usbws" ]
	run as "$IN_USER" "$USBWS" port --json
	[ "$status" -eq 0 ]
	run as "$IN_USER" "$USBWS" status --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.tunnels | length == 1' >/dev/null
	# nobody cannot unlink from root's directory: the files stay, nobody answers
	stop_procs
	[ -S "$sock" ]
	[ -S "$USBWS_RUN_DIR/proxy.sock" ]
	run as "$IN_USER" "$USBWS" status
	[ "$status" -eq 0 ]
	[ "$output" = "no tunnels running" ]
	run as "$IN_USER" "$USBWS" port
	[ "$status" -eq 1 ]
	[ "$output" = "usbws: error: no usbws-proxy answers on $USBWS_RUN_DIR/proxy.sock: Connection refused" ]
	# the next proxy takes the name over, the group's again
	start_proxy "$WORK/proxy2.log" server --vhci none
	[ "$(shows "$USBWS_RUN_DIR/proxy.sock")" = "660 usbws" ]
	run as "$IN_USER" "$USBWS" port --json
	[ "$status" -eq 0 ]
}

@test "a run directory that exists is brought to 0750 group usbws when ours, left alone when not" {
	users
	mkdir -m 0777 "$USBWS_RUN_DIR"
	start_proxy "$WORK/proxy.log" server --vhci none
	[ "$(shows "$USBWS_RUN_DIR")" = "750 usbws" ]
	stop_procs
	# someone else's: not ours to change, and the socket is still the group's
	rm -r "$USBWS_RUN_DIR"
	mkdir -m 0755 "$USBWS_RUN_DIR"
	chown "$OUT_USER:$OUT_USER" "$USBWS_RUN_DIR"
	start_proxy "$WORK/proxy.log" server --vhci none
	[ "$(stat -c '%a %U' "$USBWS_RUN_DIR")" = "755 $OUT_USER" ]
	[ "$(shows "$USBWS_RUN_DIR/proxy.sock")" = "660 usbws" ]
	stop_procs
	# a sticky one is everyone's, as /tmp
	rm -r "$USBWS_RUN_DIR"
	mkdir -m 1777 "$USBWS_RUN_DIR"
	start_proxy "$WORK/proxy.log" server --vhci none
	[ "$(shows "$USBWS_RUN_DIR")" = "1777 root" ]
}

@test "without a group usbws the sockets stay root's: 0600 in a 0700 directory, said in one info line" {
	getent group usbws >/dev/null && skip "this machine has a group usbws"
	mkdir -m 0755 "$USBWS_RUN_DIR"
	start_proxy "$WORK/proxy.log" server --vhci none
	[ "$(stat -c %a "$USBWS_RUN_DIR")" = 700 ]
	[ "$(stat -c %a "$USBWS_RUN_DIR/proxy.sock")" = 600 ]
	[ "$(grep -c "only its owner" "$WORK/proxy.log")" -eq 1 ]
	grep -qxE "usbws-proxy: info: $(re "$USBWS_RUN_DIR/proxy.sock: only its owner and root may use it (there is no group usbws)")" \
		"$WORK/proxy.log"
}
