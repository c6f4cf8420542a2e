#!/bin/bash
# make check-vmm: Debian's own arm64 QEMU (qemu-system-arm:arm64, unmodified,
# unpacked from Debian's packages) runs inside the emulated hosts with
# -accel kvm and migrates a guest through a file (harness/vmm-migrate.c);
# the guest must keep taking timer and device interrupts and read the same
# GIC state afterwards. Hosts v2 (GICv2, SPI device), v3 and nvhe (GICv3 +
# ITS, MSI device; VHE and nVHE KVM), each once with the series and once with
# the unpatched base kernel; the guest is the series' Image in both. Only the
# series' results count as passed/failed; the base's are printed beside them.
# VMM_HOSTS="v3" make check-vmm runs a subset.
. "$(dirname "$0")/lib.sh"

hosts=${VMM_HOSTS:-v2 v3 nvhe}
vmm=$BUILD/out/vmm
rm -rf "$RESULTS"
mkdir -p "$RESULTS" "$vmm"
start=$(date +%s)

# 1. Kernels: the series (build/linux) and the base (a worktree at tag 'base').
"$TOP/harness/build.sh" host
build_base_kernel
for prog in vmm-migrate vmm-guest; do
	${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -o "$vmm/$prog" "$TOP/harness/$prog.c"
done

# 2. QEMU: qemu-system-arm:arm64 and what it depends on, fetched with apt
# (Debian's archive only) and unpacked; the host gets qemu-system-aarch64 and
# the shared libraries it loads, found by following DT_NEEDED.
debs=$BUILD/debs/qemu-arm64
if [ ! -f "$debs/.done" ]; then
	rm -rf "$debs"
	mkdir -p "$debs"
	pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances qemu-system-arm:arm64 | grep '^[^ <].*:arm64$' | sort -u)
	[ -n "$pkgs" ] || die "apt knows no qemu-system-arm:arm64. As root:
       'dpkg --add-architecture arm64 && apt-get update' (.ci/run does this)."
	(cd "$debs" && apt-get download $pkgs >/dev/null 2>&1) || die "apt cannot fetch qemu-system-arm:arm64 and its dependencies"
	touch "$debs/.done"
fi
stage=$vmm/qemu-unpacked
rm -rf "$stage" "$vmm/rootfs"
mkdir -p "$stage" "$vmm/rootfs/usr/bin" "$vmm/rootfs/lib/aarch64-linux-gnu" "$vmm/rootfs/guest" "$vmm/rootfs/tests"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$stage"; done
cp "$stage/usr/bin/qemu-system-aarch64" "$vmm/rootfs/usr/bin/"
todo=$stage/usr/bin/qemu-system-aarch64
while [ -n "$todo" ]; do
	next=
	for f in $todo; do
		for lib in $(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
			[ -e "$vmm/rootfs/lib/aarch64-linux-gnu/$lib" ] && continue
			src=$(find "$stage/lib" "$stage/usr/lib" -name "$lib" | head -1)
			[ -n "$src" ] || die "qemu-system-aarch64 needs $lib, which no unpacked package has"
			cp -L "$src" "$vmm/rootfs/lib/aarch64-linux-gnu/$lib"
			next="$next $src"
		done
	done
	todo=$next
done
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$vmm/rootfs/lib/ld-linux-aarch64.so.1"
qemu_version=$(dpkg-deb -f "$(ls "$debs"/qemu-system-arm_*.deb)" Version)
say "vmm: qemu-system-aarch64 $qemu_version with $(ls "$vmm/rootfs/lib/aarch64-linux-gnu" | wc -l) libraries ($(du -sh "$vmm/rootfs" | cut -f1))"

# 3. The guest: the series' Image and an initramfs with vmm-guest as /init.
mkdir -p "$vmm/guest-root"
cp "$vmm/vmm-guest" "$vmm/guest-root/init"
(cd "$vmm/guest-root" && echo init | cpio -o -H newc -R 0:0 --quiet) > "$vmm/rootfs/guest/initramfs.cpio"
cp "$BUILD/out/host/kernel/arch/arm64/boot/Image" "$vmm/rootfs/guest/Image"
cp "$BUILD/out/host/init" "$vmm/rootfs/init"
cp "$vmm/vmm-migrate" "$vmm/rootfs/tests/"

# 4. Every host, with the series' kernel and with the base's.
for h in $hosts; do
	gic=$(awk -F'\t' -v h="$h" '$1 == h' "$TOP/harness/hosts.tsv" | grep -o 'gic-version=[23]' | cut -d= -f2)
	echo "vmm-migrate 900 $gic" > "$vmm/rootfs/tests/list"
	(cd "$vmm/rootfs" && find . | cpio -o -H newc -R 0:0 --quiet) > "$vmm/$h.cpio"
	for kernel in series base; do
		if [ $kernel = series ]; then
			res=$RESULTS/$h image=$BUILD/out/host/kernel/arch/arm64/boot/Image
		else
			res=$RESULTS/base/$h image=$BUILD/out/base/kernel/arch/arm64/boot/Image
		fi
		mkdir -p "$res"
		say "vmm: host $h, $kernel kernel"
		t0=$(date +%s)
		rc=0
		boot_host "$h" "$image" "$vmm/$h.cpio" "$res" 1200 || rc=$?
		echo "$(( $(date +%s) - t0 ))" > "$res/seconds"
		[ $rc = 0 ] || say "vmm: qemu for $h ($kernel) exited with $rc (124 = host timeout); see ${res#$TOP/}/qemu.log"
		python3 "$TOP/harness/results.py" host "$h" "$res"
		say "vmm: host $h, $kernel kernel: $(cat "$res/seconds") s"
	done
done
say "vmm: $(( $(date +%s) - start ))s in all"
python3 "$TOP/harness/results.py" compare "$RESULTS/base" $hosts
python3 "$TOP/harness/results.py" summary
