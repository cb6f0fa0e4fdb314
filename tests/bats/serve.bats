#!/usr/bin/env bats
# usbws serve: virtual devices over plain USB/IP TCP, checked with the
# userspace test client and Debian's own usbip.

load helpers

setup() { usbws_setup; }
teardown() { usbws_teardown; }

@test "a whole disk read over USB/IP has the image's sha256" {
	random_image "$WORK/disk.img" 8
	start_serve "$WORK/serve.log" --virtual "storage:$WORK/disk.img"
	run "$CLIENT" --port "$PORT" 127.0.0.1 read-disk 1-1 "$WORK/read.img"
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$WORK/read.img")" = "$(sha256sum <"$WORK/disk.img")" ]
}

@test "blocks written over USB/IP land in the image file" {
	random_image "$WORK/disk.img" 2
	head -c 65536 /dev/urandom >"$WORK/patch.bin"
	start_serve "$WORK/serve.log" --virtual "storage:$WORK/disk.img"
	run "$CLIENT" --port "$PORT" 127.0.0.1 write-disk 1-1 "$WORK/patch.bin" 1000
	[ "$status" -eq 0 ]
	dd if="$WORK/disk.img" of="$WORK/landed.bin" bs=512 skip=1000 count=128 status=none
	cmp "$WORK/patch.bin" "$WORK/landed.bin"
}

@test "sourcesink bulk data arrives intact both ways, 8 URBs in flight" {
	start_serve "$WORK/serve.log" --virtual sourcesink
	run "$CLIENT" --port "$PORT" --urb 65536 --inflight 8 127.0.0.1 bulk 1-1 in 16777216
	[ "$status" -eq 0 ]
	[[ "$output" == "bulk_in bytes=16777216 urbs=256 "* ]]
	run "$CLIENT" --port "$PORT" --urb 65536 --inflight 8 127.0.0.1 bulk 1-1 out 16777216
	[ "$status" -eq 0 ]
	[[ "$output" == "bulk_out bytes=16777216 urbs=256 "* ]]
}

@test "Debian's usbip lists the virtual devices" {
	head -c 1048576 /dev/zero >"$WORK/disk.img"
	start_serve "$WORK/serve.log" --virtual "storage:$WORK/disk.img" --virtual sourcesink
	run usbip --tcp-port "$PORT" list -r 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"1-1: Netchip Technology, Inc. : Linux-USB File-backed Storage Gadget (0525:a4a5)"* ]]
	[[ "$output" == *"0 - Mass Storage / SCSI / Bulk-Only (08/06/50)"* ]]
	[[ "$output" == *"1-2: Netchip Technology, Inc. : Linux-USB \"Gadget Zero\" (0525:a4a0)"* ]]
}

@test "a device has one importer at a time; unknown busids are refused" {
	start_serve "$WORK/serve.log" --virtual sourcesink
	"$CLIENT" --port "$PORT" 127.0.0.1 bulk 1-1 in 4294967296 >/dev/null 2>&1 &
	PIDS+=($!)
	for i in $(seq 100); do grep -q "device 1-1 imported" "$WORK/serve.log" && break; sleep 0.05; done
	run "$CLIENT" --port "$PORT" 127.0.0.1 bulk 1-1 in 65536
	[ "$status" -eq 1 ]
	[ "$output" = "usbip-testclient: import of 1-1 refused with status 2" ]
	run "$CLIENT" --port "$PORT" 127.0.0.1 bulk 9-9 in 65536
	[ "$status" -eq 1 ]
	[ "$output" = "usbip-testclient: import of 9-9 refused with status 4" ]
	grep -q "import of 1-1 refused: already imported" "$WORK/serve.log"
}

@test "a malformed PDU drops only that importer, with the rule it broke" {
	random_image "$WORK/disk.img" 4
	start_serve "$WORK/serve.log" --virtual "storage:$WORK/disk.img" --virtual sourcesink
	# a long healthy transfer on one device...
	"$CLIENT" --port "$PORT" --inflight 4 127.0.0.1 bulk 1-2 in 268435456 >"$WORK/bulk.out" 2>&1 &
	bulk=$!
	# ...while another importer sends garbage after its import
	exec 7<>"/dev/tcp/127.0.0.1/$PORT"
	printf '\x01\x11\x80\x03\x00\x00\x00\x001-1' >&7
	head -c 29 /dev/zero >&7
	head -c 320 <&7 >/dev/null
	printf '\xde\xad\xbe\xef' >&7
	head -c 60 /dev/zero >&7
	run timeout 5 cat <&7
	exec 7>&-
	wait "$bulk"
	grep -qF "device 1-1 released by its importer, which broke the USB/IP protocol: unknown USB/IP URB command" \
		"$WORK/serve.log"
	# said once, by the one who closes the connection
	[ "$(grep -c "unknown USB/IP URB command" "$WORK/serve.log")" -eq 1 ]
	[[ "$(cat "$WORK/bulk.out")" == "bulk_in bytes=268435456 urbs=4096 "* ]]
	# and the dropped device can be imported again
	run "$CLIENT" --port "$PORT" 127.0.0.1 read-disk 1-1 "$WORK/read.img"
	[ "$status" -eq 0 ]
	cmp "$WORK/disk.img" "$WORK/read.img"
}

@test "usbws serve explains bad arguments" {
	run "$USBWS" serve --virtual sourcesink
	[ "$status" -eq 2 ]
	[ "$output" = "usbws serve: needs --listen ADDR:PORT and at least one --virtual SPEC" ]
	run "$USBWS" serve --listen 127.0.0.1:0 --virtual camera
	[ "$status" -eq 1 ]
	[ "$output" = "usbws serve: --virtual camera: unknown virtual device (use storage:PATH or sourcesink)" ]
	printf 'abc' >"$WORK/odd.img"
	run "$USBWS" serve --listen 127.0.0.1:0 --virtual "storage:$WORK/odd.img"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the image must be a regular, non-empty file whose size is a multiple of 512 bytes" ]]
	run "$USBWS" serve --listen nonsense --virtual sourcesink
	[ "$status" -eq 1 ]
	[ "$output" = "usbws serve: cannot listen on nonsense (--listen): expected HOST:PORT (an IPv6 host in brackets)" ]
}
