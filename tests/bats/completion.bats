#!/usr/bin/env bats
# The bash completion (completion/usbws): sourced as bash-completion would,
# called as bash calls it (COMP_WORDS, COMP_CWORD), its answers exact.

load helpers

setup() {
	usbws_setup
	SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	PROXY=$(PROXY_BIN)
	# shellcheck source=../../completion/usbws
	. "$SRC/completion/usbws"
}
teardown() { usbws_teardown; }

# complete WORD...: what TAB offers after WORD... (the last one is the word
# being completed, "" for a new one), space-separated, in the order offered
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	if [ "$1" = "$PROXY" ]; then _usbws_proxy; else _usbws; fi
	echo "${COMPREPLY[*]}"
}

# help_options PROGRAM [COMMAND]: the long options of the help's option
# lines ("  -b, --busid BUSID", "  --url URL"), read another way than the
# completion reads them
help_options() {
	"$@" --help | awk '/^  -/ { w = ($1 ~ /^-[a-zA-Z],$/) ? $2 : $1; if (w ~ /^--/) print w }' | tr '\n' ' ' |
		sed 's/ $//'
}

@test "usbws: the commands, then each command's options" {
	[ "$(complete_words "$USBWS" "")" = "selftest serve connect list bind unbind status disconnect nodes port attach detach capture" ]
	[ "$(complete_words "$USBWS" b)" = "bind" ]
	[ "$(complete_words "$USBWS" d)" = "disconnect detach" ]
	[ "$(complete_words "$USBWS" -)" = "--sysfs-root --help --version" ]
	# after the global option and its argument, still the commands
	[ "$(complete_words "$USBWS" --sysfs-root /sys un)" = "unbind" ]
	[ "$(complete_words "$USBWS" bind -)" = "--busid --verbose --help" ]
	[ "$(complete_words "$USBWS" unbind --)" = "--busid --verbose --help" ]
	[ "$(complete_words "$USBWS" status -)" = "--json --verbose --help" ]
	[ "$(complete_words "$USBWS" detach -)" = "--port --device --verbose --help" ]
	[ "$(complete_words "$USBWS" attach -)" = "--device --vhci --timeout --verbose --help" ]
	[ "$(complete_words "$USBWS" nodes -)" = "--node --json --verbose --help" ]
	[ "$(complete_words "$USBWS" serve -)" = "--listen --virtual --verbose --help" ]
	# list accepts connect's --resume-window and ignores it: its help, and so TAB, do not offer it
	[ "$(complete_words "$USBWS" list --re)" = "--remote" ]
	[ "$(complete_words "$USBWS" connect --re)" = "--retries --resume-window" ]
	[ "$(complete_words "$USBWS" connect --ping-)" = "--ping-interval --ping-timeout" ]
	# a word that is not an option gets nothing: usbws takes no arguments
	[ "$(complete_words "$USBWS" status "")" = "" ]
}

@test "each command's options are those its --help names, so the completion cannot go stale" {
	local cmd n=0
	for cmd in $("$USBWS" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do
		n=$((n + 1))
		echo "usbws $cmd: $(complete_words "$USBWS" "$cmd" -)"
		[ "$(complete_words "$USBWS" "$cmd" -)" = "$(help_options "$USBWS" "$cmd")" ]
	done
	[ "$n" -eq 13 ]
	[ "$(complete_words "$USBWS" -)" = "$(help_options "$USBWS")" ]
	[ "$(complete_words "$PROXY" -)" = "$(help_options "$PROXY")" ]
	# and the programs take every option offered
	for cmd in $("$USBWS" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do
		for opt in $(complete_words "$USBWS" "$cmd" -); do
			run "$USBWS" "$cmd" "$opt" x </dev/null
			[[ "$output" != *"unrecognized option"* ]] || { echo "usbws $cmd $opt: $output"; false; }
		done
	done
	for opt in $(complete_words "$PROXY" -); do
		run "$PROXY" "$opt" x </dev/null
		[[ "$output" != *"unrecognized option"* ]] || { echo "usbws-proxy $opt: $output"; false; }
	done
}

@test "busids: bind offers the devices usbip-host may take, unbind those it has, disconnect the running exports" {
	fake_sysfs
	# 1-2 is a hub, 3-1 imported through vhci_hcd: neither is offered
	[ "$(complete_words "$USBWS" bind --busid "")" = "1-1 2-1" ]
	[ "$(complete_words "$USBWS" bind -b 2)" = "2-1" ]
	[ "$(complete_words "$USBWS" unbind -b "")" = "" ]
	fake_stub 1-1 1
	[ "$(complete_words "$USBWS" bind -b "")" = "2-1" ]
	[ "$(complete_words "$USBWS" unbind --busid "")" = "1-1" ]
	[ "$(complete_words "$USBWS" connect --busid "")" = "1-1 2-1" ]
	# --sysfs-root on the line wins over the environment
	sys=$USBWS_SYSFS_ROOT
	USBWS_SYSFS_ROOT=/nonexistent
	[ "$(complete_words "$USBWS" --sysfs-root "$sys" unbind -b "")" = "1-1" ]
	[ "$(complete_words "$USBWS" unbind -b "")" = "" ]
	mkdir -p "$USBWS_RUN_DIR"
	: >"$USBWS_RUN_DIR/connect-1-1.sock"
	: >"$USBWS_RUN_DIR/connect-virtual-42.sock"
	: >"$USBWS_RUN_DIR/proxy.sock"
	[ "$(complete_words "$USBWS" disconnect -b "")" = "1-1 virtual-42" ]
	[ "$(complete_words "$USBWS" disconnect --busid v)" = "virtual-42" ]
}

@test "arguments by their name in the help: files, directories, users, devices, lists of words" {
	mkdir "$WORK/cwd" "$WORK/cwd/certs"
	cd "$WORK/cwd"
	: >node.pem
	: >node.key
	[ "$(complete_words "$USBWS" connect --cert no)" = "node.key node.pem" ] ||
		[ "$(complete_words "$USBWS" connect --cert no)" = "node.pem node.key" ]
	[ "$(complete_words "$USBWS" --sysfs-root c)" = "certs" ]
	[ "$(complete_words "$USBWS" connect --user nobod)" = "nobody" ]
	[ "$(complete_words "$USBWS" connect --virtual "")" = "sourcesink storage:" ]
	mkdir -p "$USBWS_SYSFS_ROOT/bus/platform/devices/usbip-vudc.0" "$USBWS_SYSFS_ROOT/bus/platform/devices/usbip-vudc.1"
	[ "$(complete_words "$USBWS" connect -d "")" = "usbip-vudc.0 usbip-vudc.1" ]
	# what has no list gets nothing: a URL, a number
	[ "$(complete_words "$USBWS" connect --url "")" = "" ]
	[ "$(complete_words "$USBWS" detach -p "")" = "" ]
	[ "$(complete_words "$PROXY" --identity "")" = "cn san-dns san-uri" ]
	[ "$(complete_words "$PROXY" --event-loop "")" = "libev poll" ]
	[ "$(complete_words "$PROXY" --vhci "")" = "auto none" ]
	[ "$(complete_words "$PROXY" --policy no)" = "none node.key node.pem" ] ||
		[ "$(complete_words "$PROXY" --policy no)" = "none node.pem node.key" ]
	[ "$(complete_words "$PROXY" --usbip-listen "")" = "" ]
	[ "$(complete_words "$PROXY" --usbip-listen-)" = "--usbip-listen-public" ]
	[ "$(complete_words "$PROXY" --usbip-listen-public -)" = "$(help_options "$PROXY")" ]
}

@test "bash-completion finds both programs' completion by their names; a missing program gets nothing, quietly" {
	mkdir "$WORK/completions"
	cp "$SRC/completion/usbws" "$SRC/completion/usbws-proxy" "$WORK/completions/"
	run bash -c '. "$1/usbws-proxy" && complete -p usbws-proxy usbws' _ "$WORK/completions"
	[ "$status" -eq 0 ]
	[ "$output" = "complete -F _usbws_proxy usbws-proxy
complete -F _usbws usbws" ]
	run bash -c '. "$1/usbws" && COMP_WORDS=(usbws-nowhere b) COMP_CWORD=1 && _usbws && echo "[${COMPREPLY[*]}]"' _ \
		"$WORK/completions"
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
}

@test "make install puts the completion where bash-completion looks, and --with-bashcompletiondir elsewhere" {
	make -s -C "$USBWS_BUILDDIR" install DESTDIR="$WORK/root" >/dev/null
	dir=$(make -s -C "$USBWS_BUILDDIR" --no-print-directory -f Makefile -f - print-var <<<'print-var: ; @echo $(bashcompletiondir)')
	want=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || true)
	if "$USBWS_BUILDDIR/config.status" --config | grep -q -- --with-bashcompletiondir; then
		: # told where (distcheck is): the Makefile's dir is the one to check
	elif [ -n "$want" ]; then
		[ "$dir" = "$want" ]
	else
		prefix=$(make -s -C "$USBWS_BUILDDIR" --no-print-directory -f Makefile -f - print-var <<<'print-var: ; @echo $(datadir)')
		[ "$dir" = "$prefix/bash-completion/completions" ]
	fi
	cmp "$SRC/completion/usbws" "$WORK/root$dir/usbws"
	cmp "$SRC/completion/usbws-proxy" "$WORK/root$dir/usbws-proxy"
}

@test "configure --with-bashcompletiondir=DIR puts it in DIR, and =no nowhere" {
	# configure runs beside the build only when the source tree has none of its own
	[ ! -e "$SRC/config.status" ] || skip "the source tree is configured in place: a second configure would refuse it"
	mkdir "$WORK/cfg"
	cd "$WORK/cfg"
	"$SRC/configure" -q --with-bashcompletiondir=/opt/bc >/dev/null
	[ "$(sed -n 's/^bashcompletiondir = //p' Makefile)" = /opt/bc ]
	"$SRC/configure" -q --without-bashcompletiondir >/dev/null
	make -s install-data DESTDIR="$WORK/root" >/dev/null
	[ -z "$(find "$WORK/root" -name 'usbws*' -path '*completion*')" ]
	[ -n "$(find "$WORK/root" -name usbws.1)" ]
}
