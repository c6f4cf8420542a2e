#!/bin/bash
# make profile: where the instructions of the benchmark's largest cases go,
# base against series. Runs harness/bench.c --profile (57,344 LPIs over 16
# devices and 4 vCPUs, and QEMU's register sequence with 4 vCPUs and 960
# SPIs) on the v3 host under -icount with the TCG plugin harness/tbprof.c,
# which counts the instructions of every translation block in each timed
# region. results.py profile maps the blocks to the kernel's functions
# (System.map; the host config has no KASLR) and prints, per operation, the
# functions that execute the most instructions, averaged over the repetitions.
. "$(dirname "$0")/lib.sh"

out=$OUT/profile
res=$RESULTS/profile
rm -rf "$res" "$out/rootfs"
mkdir -p "$res" "$out/rootfs/tests"

"$TOP/harness/build.sh" host
build_base_kernel
gcc -O2 -Wall -Werror -shared -fPIC -o "$out/tbprof.so" "$TOP/harness/tbprof.c"
${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -isystem "$OUT/host/headers/include" \
	-o "$out/rootfs/tests/bench" "$TOP/harness/bench.c"
mark=0x$(${CROSS_COMPILE}nm "$out/rootfs/tests/bench" | awk '$3 == "profile_mark" { print $1 }')
cp "$OUT/host/init" "$out/rootfs/init"
echo "bench 3000 --profile" > "$out/rootfs/tests/list"
(cd "$out/rootfs" && find . | cpio -o -H newc -R 0:0 --quiet) > "$out/initramfs.cpio"

for kernel in base series; do
	if [ $kernel = series ]; then
		kdir=$OUT/host/kernel
	else
		kdir=$OUT/base/kernel
	fi
	mkdir -p "$res/$kernel"
	say "profile: v3 host, $kernel kernel"
	QEMU_EXTRA=(-icount shift=0,align=off,sleep=off
		    -plugin "$out/tbprof.so,mark=$mark,out=$res/$kernel/segment")
	boot_host v3 "$kdir/arch/arm64/boot/Image" "$out/initramfs.cpio" "$res/$kernel" 3600 ||
		die "profile: qemu ($kernel) failed; see ${res#$TOP/}/$kernel/qemu.log"
	python3 "$TOP/harness/results.py" profile "$kdir/System.map" "$res/$kernel" > "$res/$kernel.txt"
	say "profile: $kernel kernel: ${res#$TOP/}/$kernel.txt"
done
cat "$res/base.txt" "$res/series.txt"
