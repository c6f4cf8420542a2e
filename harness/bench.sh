#!/bin/bash
# make bench: the migration blackout cost of vGIC save/restore, base against
# series. Builds the unpatched base and the series with the same config
# (configs/host.config), boots each on the v3 host under
# -icount shift=0,align=off,sleep=off (the emulated clock counts
# instructions: 1 ms is 1,000,000 guest instructions, whatever the machine's
# load) and runs harness/bench.c there, which checks every result it times.
# Prints "operation | scale | base | series | ratio" and writes
# build/results/bench.tsv. BENCH_ARGS=--quick runs the smallest scale only.
. "$(dirname "$0")/lib.sh"

out=$OUT/bench
res=$RESULTS/bench
rm -rf "$res" "$out/rootfs"
mkdir -p "$res" "$out/rootfs/tests"

"$TOP/harness/build.sh" host
build_base_kernel
${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -isystem "$OUT/host/headers/include" \
	-o "$out/rootfs/tests/bench" "$TOP/harness/bench.c"
cp "$OUT/host/init" "$out/rootfs/init"
echo "bench 3000 ${BENCH_ARGS:-}" > "$out/rootfs/tests/list"
(cd "$out/rootfs" && find . | cpio -o -H newc -R 0:0 --quiet) > "$out/initramfs.cpio"

QEMU_EXTRA=(-icount shift=0,align=off,sleep=off)
for kernel in base series; do
	if [ $kernel = series ]; then
		image=$OUT/host/kernel/arch/arm64/boot/Image
	else
		image=$OUT/base/kernel/arch/arm64/boot/Image
	fi
	mkdir -p "$res/$kernel"
	say "bench: v3 host, $kernel kernel"
	t0=$(date +%s)
	rc=0
	boot_host v3 "$image" "$out/initramfs.cpio" "$res/$kernel" 3600 || rc=$?
	[ $rc = 0 ] || say "bench: qemu ($kernel) exited with $rc (124 = timeout); see ${res#$TOP/}/$kernel/qemu.log"
	python3 "$TOP/harness/results.py" host v3 "$res/$kernel" > /dev/null
	say "bench: $kernel kernel: $(( $(date +%s) - t0 )) s"
done
python3 "$TOP/harness/results.py" bench "$res/base" "$res/series"
