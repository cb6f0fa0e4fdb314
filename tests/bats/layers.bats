#!/usr/bin/env bats
# scripts/check-layers: the layering rule of HACKING.md, enforced.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	tree=$BATS_TEST_TMPDIR/tree
	mkdir -p "$tree"
	cp -r "$TOP/common" "$TOP/usbws" "$TOP/proxy" "$TOP/HACKING.md" "$tree/"
	rm -f "$tree"/*/*.o "$tree"/common/*/*.o
}

@test "layers: the tree as it is passes" {
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok 1 - includes point down the layers (base usbip tunnel net kernel vdev)"* ]]
}

@test "layers: a lower layer including a higher one fails, naming the line" {
	sed -i '0,/#include "usbip\/usbip_codec.h"/s//#include "usbip\/usbip_codec.h"\n#include "net\/netaddr.h"/' "$tree/common/usbip/usbip_codec.c"
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 1 ]
	[[ "$output" == *'common/usbip/usbip_codec.c:'* ]]
	[[ "$output" == *'"net/netaddr.h" points up: layer net is above usbip'* ]]
	[[ "$output" == *'not ok 1'* ]]
}

@test "layers: common/ including a program's header fails" {
	echo '#include "usbws/node.h"' >>"$tree/common/kernel/kdev.c"
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 1 ]
	[[ "$output" == *'"usbws/node.h" reaches into the program folder usbws/'* ]]
}

@test "layers: one program including the other's header fails" {
	echo '#include "proxy/proxy.h"' >>"$tree/usbws/node.c"
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 1 ]
	[[ "$output" == *'usbws/node.c:'* ]]
	[[ "$output" == *'reaches into the program folder proxy/'* ]]
}

@test "layers: an include that names no layer fails" {
	echo '#include "buf.h"' >>"$tree/common/base/log.c"
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 1 ]
	[[ "$output" == *'"buf.h" names no layer'* ]]
}

@test "layers: a source file directly in common/ fails" {
	touch "$tree/common/stray.c"
	run bash "$TOP/scripts/check-layers" "$tree"
	[ "$status" -eq 1 ]
	[[ "$output" == *'common/stray.c:0: a file directly in common/'* ]]
}
