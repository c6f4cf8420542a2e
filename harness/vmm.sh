#!/bin/bash
# make check-vmm: three of Debian's own arm64 QEMUs (qemu-system-arm:arm64,
# unmodified, unpacked from Debian's packages) run inside the emulated hosts
# with -accel kvm, one after the other in the same boot of a host, each
# through the scenarios of harness/vmm-migrate.c: (a) start, (b) QMP stop
# and cont, (c) migration through a file, (d) QMP system_reset, (e) a
# bare-metal guest (harness/vmm-cbpr.c) that sets ICC_CTLR_EL1.CBPR and
# resets itself, and on host v4 (f) a guest with the host's edu PCI device
# assigned (vfio-pci), whose MSI KVM forwards as a GICv4.0 VLPI, through
# stop/cont, migrate and savevm. Hosts v2 (GICv2, SPI device), v3 and nvhe
# (GICv3 + ITS, MSI device; VHE and nVHE KVM) and v4, each once with the
# series and once with the unpatched base kernel; the Linux guest is the
# series' Image in both. Only the series' results count as passed/failed;
# the base's are printed beside them.
# VMM_HOSTS="v3" and VMM_QEMUS="10.0" select subsets.
. "$(dirname "$0")/lib.sh"

# The QEMUs, by upstream version: the Debian suite whose package it is.
declare -A suite=([7.2]=bookworm [10.0]=trixie [11.1]=trixie-backports)
hosts=${VMM_HOSTS:-v2 v3 nvhe v4}
qemus=${VMM_QEMUS:-7.2 10.0 11.1}
for q in $qemus; do
	[ -n "${suite[$q]:-}" ] || die "VMM_QEMUS: no QEMU '$q' (known: ${!suite[*]})"
done
vmm=$OUT/vmm
rm -rf "$RESULTS"
mkdir -p "$RESULTS" "$vmm"
start=$(date +%s)

# 1. Kernels: the series (build/linux) and the base (a worktree at tag 'base');
# the programs for the host and the bare-metal guest.
"$TOP/harness/build.sh" host
build_base_kernel
for prog in vmm-migrate vmm-guest; do
	${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -o "$vmm/$prog" "$TOP/harness/$prog.c"
done
${CROSS_COMPILE}gcc -ffreestanding -nostdlib -static -fno-pie -no-pie -O2 -Wall -Werror \
	-mgeneral-regs-only -mstrict-align -fno-stack-protector -Wl,--build-id=none \
	-T "$TOP/harness/vmm-cbpr.lds" -o "$vmm/vmm-cbpr.elf" "$TOP/harness/vmm-cbpr.c"
${CROSS_COMPILE}objcopy -O binary "$vmm/vmm-cbpr.elf" "$vmm/cbpr.img"

# 2. The QEMUs, each with the libraries it loads, into the host's /qemu/<version>
# (the newer suites' packages through suite_apt, harness/lib.sh: a private apt
# configuration under build/apt/).

# Fetch qemu-system-arm:arm64 of QEMU $1 and what it depends on into
# build/debs/qemu-<version> (once), checking the package's version.
fetch_qemu() {
	local q=$1 s=${suite[$1]} debs=$BUILD/debs/qemu-$1 pkgs version
	[ -f "$debs/.done" ] && return
	rm -rf "$debs"
	mkdir -p "$debs"
	if [ "$s" != bookworm ]; then
		suite_apt "$s" apt-get -q update >/dev/null || die "apt-get update of Debian's $s failed"
	fi
	pkgs=$(suite_apt "$s" apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances qemu-system-arm:arm64 | { grep '^[^ <].*:arm64$' || true; } | sort -u)
	[ -n "$pkgs" ] || die "apt knows no qemu-system-arm:arm64 in $s.$([ "$s" != bookworm ] || echo "
       As root: 'dpkg --add-architecture arm64 && apt-get update' (.ci/run does this).")"
	(cd "$debs" && suite_apt "$s" apt-get download $pkgs >/dev/null 2>&1) ||
		die "apt cannot fetch qemu-system-arm:arm64 of $s and its dependencies"
	version=$(dpkg-deb -f "$debs"/qemu-system-arm_*.deb Version)
	[[ $version == "1:$q"[.+]* ]] ||
		die "Debian's $s serves qemu-system-arm $version, not QEMU $q: update 'suite' in harness/vmm.sh"
	touch "$debs/.done"
	rm -rf "$BUILD/apt/$s"	# the private apt's lists and caches: not needed any more
}

# Unpack QEMU $1 into the host's /qemu/<version>: qemu-system-aarch64 and, in
# lib/, the shared libraries it loads (DT_NEEDED, followed), its ld-linux
# among them; vmm-migrate runs it through that ld-linux.
install_qemu() {
	local q=$1 stage=$vmm/stage-$1 dest=$vmm/rootfs/qemu/$1 todo next f lib src
	rm -rf "$stage"
	mkdir -p "$stage" "$dest/lib"
	for f in "$BUILD/debs/qemu-$q"/*.deb; do dpkg-deb -x "$f" "$stage"; done
	cp "$stage/usr/bin/qemu-system-aarch64" "$dest/"
	todo=$stage/usr/bin/qemu-system-aarch64
	while [ -n "$todo" ]; do
		next=
		for f in $todo; do
			for lib in $(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
				[ -e "$dest/lib/$lib" ] && continue
				src=$(find "$stage" -name "$lib" \( -type f -o -type l \) -print -quit)
				[ -n "$src" ] || die "QEMU $q needs $lib, which no unpacked package has"
				cp -L "$src" "$dest/lib/$lib"
				next="$next $src"
			done
		done
		todo=$next
	done
	rm -rf "$stage"
	say "vmm: QEMU $q: qemu-system-arm $(dpkg-deb -f "$BUILD/debs/qemu-$q"/qemu-system-arm_*.deb Version) of Debian's ${suite[$q]}, $(ls "$dest/lib" | wc -l) libraries ($(du -sh "$dest" | cut -f1))"
}

rm -rf "$vmm/rootfs"
mkdir -p "$vmm/rootfs/guest" "$vmm/rootfs/tests"
for q in $qemus; do
	fetch_qemu "$q"
	install_qemu "$q"
	ln -s vmm-migrate "$vmm/rootfs/tests/vmm-qemu-$q"
done

# 3. The guests: the series' Image with an initramfs whose /init is
# vmm-guest, and the bare-metal CBPR guest.
mkdir -p "$vmm/guest-root"
cp "$vmm/vmm-guest" "$vmm/guest-root/init"
(cd "$vmm/guest-root" && echo init | cpio -o -H newc -R 0:0 --quiet) > "$vmm/rootfs/guest/initramfs.cpio"
cp "$OUT/host/kernel/arch/arm64/boot/Image" "$vmm/rootfs/guest/Image"
cp "$vmm/cbpr.img" "$vmm/rootfs/guest/"
cp "$OUT/host/init" "$vmm/rootfs/init"
cp "$vmm/vmm-migrate" "$vmm/rootfs/tests/"

# 4. Every host, with the series' kernel and with the base's: one boot runs
# the QEMUs one after the other (tests vmm-qemu-<version>).
for h in $hosts; do
	gic=$(awk -F'\t' -v h="$h" '$1 == h' "$TOP/harness/hosts.tsv" | grep -o 'gic-version=[234]' | cut -d= -f2)
	for q in $qemus; do
		echo "vmm-qemu-$q 600 $gic $q"
	done > "$vmm/rootfs/tests/list"
	(cd "$vmm/rootfs" && find . | cpio -o -H newc -R 0:0 --quiet) > "$vmm/$h.cpio"
	for kernel in series base; do
		if [ $kernel = series ]; then
			res=$RESULTS/$h image=$OUT/host/kernel/arch/arm64/boot/Image
		else
			res=$RESULTS/base/$h image=$OUT/base/kernel/arch/arm64/boot/Image
		fi
		mkdir -p "$res"
		say "vmm: host $h, $kernel kernel, QEMU $qemus"
		t0=$(date +%s)
		rc=0
		boot_host "$h" "$image" "$vmm/$h.cpio" "$res" $((600 * $(wc -w <<< "$qemus") + 300)) || rc=$?
		echo "$(( $(date +%s) - t0 ))" > "$res/seconds"
		[ $rc = 0 ] || say "vmm: qemu for $h ($kernel) exited with $rc (124 = host timeout); see ${res#$TOP/}/qemu.log"
		python3 "$TOP/harness/results.py" host "$h" "$res"
		say "vmm: host $h, $kernel kernel: $(cat "$res/seconds") s"
	done
done
say "vmm: $(( $(date +%s) - start ))s in all"
for q in $qemus; do
	echo "vmm-qemu-$q: qemu-system-arm:arm64 $(dpkg-deb -f "$BUILD/debs/qemu-$q"/qemu-system-arm_*.deb Version) of Debian's ${suite[$q]}"
done
python3 "$TOP/harness/results.py" compare "$RESULTS/base" $hosts
python3 "$TOP/harness/results.py" summary
