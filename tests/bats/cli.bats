#!/usr/bin/env bats
# The front ends: exit codes and the exact messages a user sees.

teardown() {
	[ -z "${DEMO_TREE:-}" ] || rm -rf "$DEMO_TREE"
}

setup() {
	USBWS=${USBWS_BUILDDIR:?run through make check}/usbws/usbws
	PROXY=$USBWS_BUILDDIR/proxy/usbws-proxy
	VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$USBWS_BUILDDIR/config.h")
	SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# no default options file of this machine's (usbws(1), FILES)
	export USBWS_CONF_DIR=$BATS_TEST_TMPDIR/etc
}

# commands [SECTION]: the commands usbws --help lists, one a line; with
# SECTION, those under the heading that starts with it only
commands() {
	"$USBWS" --help | awk -v want="$1" '
		/^Commands/ { inside = index($0, want) == 1 }
		/^$/ { inside = 0 }
		inside && /^  [a-z]/ { print $1 }'
}

# long_options FILE [TABLE]: the long options of FILE's getopt tables
# (its struct option arrays), or of the one named TABLE, one a line
long_options() {
	awk -v table="${2:-}" '/struct option/ && (table == "" || index($0, "struct option " table "[")) { inside = 1 }
	     inside && match($0, /\{ "[^"]+",/) { print substr($0, RSTART + 3, RLENGTH - 5) }
	     inside && /^\t*\};/ { inside = 0 }' "$1"
}

# command_options FILE: the options a command file takes: its own table's,
# and those of the table in cmd.c it parses with, shared with others
command_options() {
	long_options "$1"
	! grep -q "cmd_link_parse" "$1" || long_options "$SRC/usbws/cmd.c" cmd_link_options
	! grep -q "cmd_admin_parse(" "$1" || long_options "$SRC/usbws/cmd.c" cmd_admin_options
}

# names_every_option FILE HELP: fails naming each option FILE takes that
# HELP does not mention as --NAME
names_every_option() {
	local opt missing=0 n=0
	for opt in $(command_options "$1"); do
		n=$((n + 1))
		grep -qE -- "--$opt([^a-z-]|\$)" <<<"$2" || { echo "${1#"$SRC"/}: --$opt is not in its help"; missing=1; }
	done
	[ "$n" -gt 0 ] || { echo "${1#"$SRC"/}: no options found"; return 1; }
	return $missing
}

@test "usbws --version prints the configured version" {
	run "$USBWS" --version
	[ "$status" -eq 0 ]
	[ -n "$VERSION" ]
	[ "$output" = "usbws $VERSION" ]
}

@test "usbws selftest passes every check and says so" {
	run "$USBWS" selftest
	[ "$status" -eq 0 ]
	[[ "$output" == *"one byte at a time gives exactly the same events"* ]]
	[[ "$output" == *'unsolicited RET_SUBMIT seqnum is refused: "reply to a seqnum that is not outstanding (unsolicited)"'* ]]
	[[ "$output" == *'actual_length above the request is refused: "actual_length larger than the requested length"'* ]]
	[[ "$output" != *"FAIL"* ]]
	last=$(printf '%s\n' "$output" | tail -n 1)
	[[ "$last" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]]
	[ "${BASH_REMATCH[1]}" -ge 10 ]
}

@test "usbws without a command is a usage error" {
	run "$USBWS"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws: no command given (try 'usbws --help')" ]
}

@test "usbws refuses an unknown command by name" {
	run "$USBWS" frobnicate
	[ "$status" -eq 2 ]
	[ "$output" = "usbws: unknown command 'frobnicate' (try 'usbws --help')" ]
}

@test "usbws selftest refuses extra arguments" {
	run "$USBWS" selftest --now
	[ "$status" -eq 2 ]
	[ "$output" = "usbws selftest: unexpected argument '--now' (it takes none)" ]
}

@test "usbws refuses an unknown option" {
	run "$USBWS" --bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"unrecognized option '--bogus'"* ]]
	[[ "$output" == *"usage: usbws COMMAND"* ]]
}

@test "usbws --help lists each command of the table, and each has a file of its own" {
	run "$USBWS" --help
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: usbws COMMAND"* ]]
	listed=$(commands | sort)
	files=$(cd "$SRC/usbws" && ls cmd_*.c | sed 's/^cmd_\(.*\)\.c$/\1/' | sort)
	echo "listed: $listed"; echo "files: $files"
	[ -n "$listed" ]
	[ "$listed" = "$files" ]
	# the proxy host's commands are a group apart
	[ "$(commands "Commands on the proxy's host" | tr '\n' ' ')" = "nodes port attach detach capture " ]
	[[ " $(commands "Commands on the node" | tr '\n' ' ') " != *" port "* ]]
	[[ " $(commands "Commands on the node" | tr '\n' ' ') " != *" detach "* ]]
}

@test "usbws CMD --help and -h print that command's usage and exit 0" {
	for cmd in $(commands); do
		for h in --help -h; do
			run "$USBWS" "$cmd" "$h"
			echo "usbws $cmd $h: status $status: ${lines[0]}"
			[ "$status" -eq 0 ]
			[[ "${lines[0]}" =~ ^usage:\ usbws\ $cmd( |$) ]]
		done
	done
	# --help wins wherever it comes among the options
	run "$USBWS" connect --url wss://localhost:1/usbip --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: usbws connect "* ]]
}

@test "each usbws command's help names every option of its getopt table" {
	for cmd in $(commands); do
		help=$("$USBWS" "$cmd" --help)
		if [ -n "$(command_options "$SRC/usbws/cmd_$cmd.c")" ]; then
			names_every_option "$SRC/usbws/cmd_$cmd.c" "$help"
		else
			# selftest: no options but --help
			[[ "$help" == *"--help"* ]]
		fi
	done
	names_every_option "$SRC/usbws/main.c" "$("$USBWS" --help)"
}

# short_letters CMD: the letters usbws CMD takes as options, one a line,
# found by trying each: getopt refuses any other as an invalid option.
# Nothing they do reaches the machine: an empty sysfs and run directory.
short_letters() {
	local l out
	mkdir -p "$BATS_TEST_TMPDIR/sys" "$BATS_TEST_TMPDIR/run"
	for l in {a..z} {A..Z}; do
		out=$(USBWS_RUN_DIR=$BATS_TEST_TMPDIR/run "$USBWS" --sysfs-root "$BATS_TEST_TMPDIR/sys" "$1" "-$l" x \
			</dev/null 2>&1)
		[[ "$out" == *"invalid option -- '$l'"* ]] || echo "$l"
	done
}

# option_letter CMD NAME: the getopt value of usbws CMD's --NAME, as a
# letter: from its table entry, through cmd.h's enum or #define
option_letter() {
	local f=$SRC/usbws/cmd_$1.c val
	{ grep -q "cmd_link_parse\|cmd_admin_parse" "$f" && f=$SRC/usbws/cmd.c; } || true
	val=$(sed -n "s/.*{ \"$2\", [a-z_]*, NULL, \([^ ]*\) }.*/\1/p" "$f" | head -n 1)
	case $val in
	"'"?"'") echo "${val:1:1}" ;;
	?*) sed -n "s/.*\b$val = '\(.\)'.*/\1/p; s/^#define $val '\(.\)'$/\1/p" "$SRC/usbws/cmd.h" | head -n 1 ;;
	esac
}

@test "each short option of a usbws command is in its help as -X, --NAME, and means --NAME" {
	local cmd l name n=0
	for cmd in $(commands); do
		[ "$cmd" != selftest ] || continue
		help=$("$USBWS" "$cmd" --help)
		for l in $(short_letters "$cmd"); do
			n=$((n + 1))
			[[ "$help" =~ -$l,\ --([a-z-]+) ]] || { echo "usbws $cmd: -$l is not in its help"; false; }
			name=${BASH_REMATCH[1]}
			echo "usbws $cmd: -$l, --$name: $(option_letter "$cmd" "$name")"
			[ "$(option_letter "$cmd" "$name")" = "$l" ]
		done
		# the same two everywhere
		[[ "$help" == *"  -v, --verbose "* ]]
		[[ "$help" == *"  -h, --help "* ]]
	done
	[ "$n" -ge 35 ]
}

@test "usbip's letters mean what they mean to usbip: list -l -r, bind and unbind -b, detach -p, attach and detach -d" {
	[[ "$("$USBWS" list --help)" == *"  -l, --local "*"  -r, --remote wss://"* ]]
	for cmd in bind unbind; do
		[[ "$("$USBWS" $cmd --help)" == *"  -b, --busid BUSID "* ]]
	done
	[[ "$("$USBWS" detach --help)" == *"  -p, --port N "*"  -d, --device ID "* ]]
	[[ "$("$USBWS" attach --help)" == *"  -d, --device ID "* ]]
	[[ "$("$USBWS" connect --help)" == *"  -b, --busid BUSID "*"  -d, --device usbip-vudc.N "* ]]
	# a command takes the letters of its own options only
	run "$USBWS" status -b 1-1
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid option -- 'b'"* ]]
	run "$USBWS" bind -p 3
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid option -- 'p'"* ]]
	run "$USBWS" detach -p x
	[ "$status" -eq 2 ]
	[ "$output" = "usbws detach: --port wants a vhci port number, not 'x'" ]
	run "$USBWS" list -x
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid option -- 'x'"* ]]
}

@test "usbws-proxy --help names every option of its getopt table and exits 0" {
	run "$PROXY" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: usbws-proxy "* ]]
	names_every_option "$SRC/proxy/main.c" "$output"
}

@test "the man pages name every option of the getopt tables" {
	# in roff source a dash is "\-": --ping-timeout is \-\-ping\-timeout
	in_man() {
		local opt pat missing=0
		for opt in $(for f in "${@:2}"; do command_options "$f"; done | sort -u); do
			pat=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
			grep -qE -- "\\\\-\\\\-$pat([^a-z\\\\]|\\\\[^-]|\$)" "$1" || { echo "${1#"$SRC"/} lacks --$opt"; missing=1; }
		done
		return $missing
	}
	in_man "$SRC/doc/usbws.1" "$SRC/usbws/main.c" "$SRC"/usbws/cmd_*.c
	in_man "$SRC/doc/usbws-proxy.8" "$SRC/proxy/main.c"
}

@test "usbws-proxy names each missing or unreadable file" {
	run "$PROXY"
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: --cert FILE is required" ]
	run "$PROXY" --cert /nonexistent/cert.pem --key /dev/null --ca /dev/null
	[ "$status" -eq 2 ]
	[ "$output" = "usbws-proxy: cannot read the certificate /nonexistent/cert.pem (--cert): No such file or directory" ]
	run "$PROXY" --version
	[ "$status" -eq 0 ]
	[ "$output" = "usbws-proxy $VERSION" ]
}

@test "usbws connect and list explain what they need" {
	run "$USBWS" connect --cert a --key b --ca c --virtual sourcesink
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --url wss://HOST:PORT/usbip is required" ]
	run "$USBWS" connect --url wss://localhost:1/usbip --key b --ca c --virtual sourcesink
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --cert FILE is required" ]
	run "$USBWS" connect --url wss://localhost:1/usbip --cert a --key b --ca c
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: one of --busid BUSID, --device usbip-vudc.N, --virtual SPEC (storage:PATH or sourcesink), --match VID:PID or --all is required" ]
	run "$USBWS" connect --url http://localhost:1/usbip --cert a --key b --ca c --virtual sourcesink
	[ "$status" -eq 2 ]
	[ "$output" = "usbws connect: --url http://localhost:1/usbip: the scheme is wss:// (a WebSocket over TLS), not http:// or https://: expected wss://HOST[:PORT]/usbip" ]
	run "$USBWS" list --remote wss://localhost:1/usbip --key b --ca c
	[ "$status" -eq 2 ]
	[ "$output" = "usbws list: --cert FILE is required" ]
}

@test "usbws list --local prints valid JSON, empty when there is no USB" {
	run "$USBWS" --sysfs-root /sys list --local --json
	[ "$status" -eq 0 ]
	n=$(printf '%s\n' "$output" | jq '.devices | length')
	[ "$n" -eq "$(ls /sys/bus/usb/devices 2>/dev/null | grep -cv ':')" ]
	run "$USBWS" --sysfs-root /sys list --local
	[ "$status" -eq 0 ]
	if [ "$n" -eq 0 ]; then [ "$output" = "no USB devices on this node" ]; fi
}

# make_var NAME: a variable of the build's Makefile, expanded
make_var() {
	make -s -C "$USBWS_BUILDDIR" --no-print-directory -f Makefile -f - print-var <<<"print-var: ; @echo \$($1)"
}

@test "the systemd units pass systemd-analyze verify" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	mkdir -p "$BATS_TEST_TMPDIR/etc"
	for u in usbws-proxy.service usbws-connect@.service; do
		[ -f "$USBWS_BUILDDIR/systemd/$u" ]
	done
	# verify needs the ExecStart binaries where the units say they are
	sed "s|ExecStart=[^ ]*/usbws-proxy|ExecStart=$USBWS_BUILDDIR/proxy/usbws-proxy|" \
		"$USBWS_BUILDDIR/systemd/usbws-proxy.service" >"$BATS_TEST_TMPDIR/usbws-proxy.service"
	sed "s|ExecStart=[^ ]*/usbws |ExecStart=$USBWS_BUILDDIR/usbws/usbws |" \
		"$USBWS_BUILDDIR/systemd/usbws-connect@.service" >"$BATS_TEST_TMPDIR/usbws-connect@node1.service"
	run systemd-analyze verify --man=no "$BATS_TEST_TMPDIR/usbws-proxy.service" "$BATS_TEST_TMPDIR/usbws-connect@node1.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"Unknown key"* && "$output" != *"Invalid"* ]]
	# make install puts the programs, the units and the man pages in place
	make -s -C "$USBWS_BUILDDIR" install DESTDIR="$BATS_TEST_TMPDIR/root" >/dev/null
	unitdir=$(make_var systemdsystemunitdir)
	bindir=$(make_var bindir)
	sbindir=$(make_var sbindir)
	mandir=$(make_var mandir)
	for f in "$unitdir/usbws-proxy.service" "$unitdir/usbws-connect@.service" "$bindir/usbws" "$sbindir/usbws-proxy" \
		"$mandir/man1/usbws.1" "$mandir/man8/usbws-proxy.8" "$mandir/man5/usbws-proxy.policy.5"; do
		[ -s "$BATS_TEST_TMPDIR/root$f" ] || { echo "make install left out $f"; false; }
	done
	# the node is a user's command, the proxy a daemon (section 8, sbin)
	[ ! -e "$BATS_TEST_TMPDIR/root$bindir/usbws-proxy" ]
	grep -q "^ExecStart=$sbindir/usbws-proxy " "$BATS_TEST_TMPDIR/root$unitdir/usbws-proxy.service"
	grep -qx "ExecStart=$bindir/usbws connect --user usbws --config /etc/usbws/connect.conf --instance %i" \
		"$BATS_TEST_TMPDIR/root$unitdir/usbws-connect@.service"
	# and the options files' examples, which the units' comments name
	docdir=$(make_var docdir)
	for f in proxy.conf.example connect.conf.example; do
		cmp "$SRC/doc/$f" "$BATS_TEST_TMPDIR/root$docdir/examples/$f"
		grep -qF " $docdir/examples/$f" "$BATS_TEST_TMPDIR/root$unitdir/usbws-${f%%.*}"*.service
	done
}

@test "make install as root runs systemd-sysusers on usbws.conf, never into a DESTDIR, and goes on when it fails" {
	[ "$(id -u)" = 0 ] || skip "the hook runs only as root"
	local t=$BATS_TEST_TMPDIR p=$BATS_TEST_TMPDIR/prefix
	# a stand-in that says how it was called: the machine's users stay as they are
	printf '#!/bin/sh\necho "$*" >>%s/called\nexit ${FAKE_RC:-0}\n' "$t" >"$t/sysusers"
	chmod +x "$t/sysusers"
	inst() {
		make -s -C "$USBWS_BUILDDIR" install prefix="$p" sysusersdir="$p/lib/sysusers.d" \
			systemdsystemunitdir="$p/lib/systemd/system" SYSTEMD_SYSUSERS="$t/sysusers" "$@"
	}
	inst DESTDIR="$t/root" >/dev/null
	[ ! -e "$t/called" ]
	[ -s "$t/root$p/lib/sysusers.d/usbws.conf" ]
	inst >/dev/null
	[ "$(cat "$t/called")" = "$p/lib/sysusers.d/usbws.conf" ]
	grep -qx "g usbws -" "$p/lib/sysusers.d/usbws.conf"
	run env FAKE_RC=1 make -s -C "$USBWS_BUILDDIR" install prefix="$p" sysusersdir="$p/lib/sysusers.d" \
		systemdsystemunitdir="$p/lib/systemd/system" SYSTEMD_SYSUSERS="$t/sysusers"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: $t/sysusers failed: make the user and group usbws yourself (useradd --system --user-group usbws)"* ]]
	run inst SYSTEMD_SYSUSERS=no
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$t/called")" -eq 2 ]
}

# demo_done: what the demo's output says whoever ran it: the disk came back
# whole, the programs' sockets were in a run directory of the demo's own,
# and where to read on
demo_done() {
	[[ "$output" == *"== Success: the disk read through usbws is byte-identical to the image."* ]]
	[[ "$output" == *"(busid node-1-"* ]]
	[[ "$output" =~ usbws-proxy:\ info:\ control\ socket\ /tmp/usbws-demo\.[A-Za-z0-9]{6}/run/proxy\.sock ]]
	[[ "$output" == *$'\nNODE  '*$'\nnode-1  node-1-'* ]]
	[[ "$output" == *"man usbws; man usbws-proxy; man usbws-proxy.policy"* ]]
	[[ "$output" == *"/doc/fleet.md"* ]]
}

@test "the README's demo exports a virtual disk and reads it back through the tunnel with its sha256" {
	run env USBWS_DEMO_BUILD="$USBWS_BUILDDIR" timeout 120 "$SRC/scripts/demo"
	echo "$output"
	[ "$status" -eq 0 ]
	demo_done
}

@test "the demo runs as a user who is not root, with a HOME of its own and nothing of the machine's run directory" {
	[ -x "$USBWS_BUILDDIR/tests/usbip-testclient" ]
	# what the demo runs, copied where that user may read it: the build may
	# be in root's home
	DEMO_TREE=$(mktemp -d /tmp/usbws-demo-tree.XXXXXX)
	chmod 0755 "$DEMO_TREE"
	mkdir -p "$DEMO_TREE/src/scripts" "$DEMO_TREE/src/tests" "$DEMO_TREE/build/usbws" "$DEMO_TREE/build/proxy" \
		"$DEMO_TREE/build/tests" "$DEMO_TREE/home"
	cp "$SRC/scripts/demo" "$DEMO_TREE/src/scripts/"
	cp "$SRC/tests/pki.sh" "$DEMO_TREE/src/tests/"
	cp "$USBWS_BUILDDIR/usbws/usbws" "$DEMO_TREE/build/usbws/"
	cp "$USBWS_BUILDDIR/proxy/usbws-proxy" "$DEMO_TREE/build/proxy/"
	cp "$USBWS_BUILDDIR/tests/usbip-testclient" "$DEMO_TREE/build/tests/"
	chmod -R a+rX "$DEMO_TREE"
	as=()
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$DEMO_TREE/home"
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	fi
	run env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$DEMO_TREE/home" USBWS_DEMO_BUILD="$DEMO_TREE/build" \
		"${as[@]}" timeout 120 bash "$DEMO_TREE/src/scripts/demo"
	echo "$output"
	[ "$status" -eq 0 ]
	demo_done
	[[ "$output" == *"running as root"* ]] && { echo "the demo ran as root"; false; }
	# it left nothing behind
	[ -z "$(find /tmp -maxdepth 1 -name 'usbws-demo.*' -user nobody)" ]
}
