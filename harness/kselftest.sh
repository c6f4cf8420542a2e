#!/bin/bash
# make kselftest: the KVM selftests as CI on arm64 hardware runs them. Builds
# what 'make -C tools/testing/selftests TARGETS=kvm install' makes of
# build/linux (kselftest_install/ with run_kselftest.sh, and its tarball)
# into build/out/kselftest/, boots host v3 with the series' kernel and an
# initramfs where harness/init.c starts the unmodified runner over the KVM
# collection (timeouts from the collection's 'settings'), turns its TAP into
# summary rows, then compares the vgic tests with make check's rows on v3.
# The kernel must be built ('make kselftest' runs 'harness/build.sh host' first).
. "$(dirname "$0")/lib.sh"

host=v3
out=$OUT/host
ks=$OUT/kselftest
inst=$ks/kselftest_install
debs=$BUILD/debs/kselftest
run=$RUN/kselftest-$host
res=$RESULTS/kselftest-$host
image=$out/kernel/arch/arm64/boot/Image
[ -f "$image" ] && [ -x "$out/init" ] || die "${OUT#$TOP/}/host is not built: 'make BASE=$BASE build'"

# 1. The selftests as the kernel's own install target lays them out, static
# (no C library on the target needed), against the uapi headers of O=.
say "kselftest: building the KVM collection into ${inst#$TOP/}"
kernel_make "$TREE" "$ks/obj" headers_install
rm -rf "$inst"
CCACHE_BASEDIR= make -s -C "$TREE/tools/testing/selftests" -j"$JOBS" TARGETS=kvm \
	O="$ks/obj" KSFT_INSTALL_PATH="$inst" CC="ccache ${CROSS_COMPILE}gcc" \
	EXTRA_CFLAGS=-static LDFLAGS="-static -pthread" gen_tar > "$ks/build.log" 2>&1 ||
	{ tail -20 "$ks/build.log" >&2; die "the selftests install failed: ${ks#$TOP/}/build.log"; }
tarball=$inst/kselftest-packages/kselftest.tar.gz

# 2. A shell and coreutils: Debian's arm64 busybox-static; the runner calls
# /usr/bin/timeout --foreground, which busybox's timeout lacks: coreutils'
# timeout and the glibc it loads.
if [ ! -f "$debs/.done" ]; then
	rm -rf "$debs"
	mkdir -p "$debs"
	(cd "$debs" && apt-get download busybox-static:arm64 coreutils:arm64 libc6:arm64 >/dev/null 2>&1) ||
		die "apt cannot fetch busybox-static, coreutils and libc6 for arm64. As root:
       'dpkg --add-architecture arm64 && apt-get update' (.ci/run does this)."
	touch "$debs/.done"
fi

# 3. The initramfs: /init is the harness's (mounts, one timeout, KTAP on the
# virtio console, power off); its one test starts the runner as CI would.
rm -rf "$run"
mkdir -p "$run/rootfs/bin" "$run/rootfs/usr/bin" "$run/rootfs/lib/aarch64-linux-gnu" \
	"$run/rootfs/tests" "$run/rootfs/kselftest" "$run/debs"
for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$run/debs"; done
r=$run/rootfs
cp "$run/debs/bin/busybox" "$r/bin/"
ln -s busybox "$r/bin/sh"
cp "$run/debs/usr/bin/timeout" "$r/usr/bin/"
cp "$run/debs/lib/aarch64-linux-gnu/"{ld-linux-aarch64.so.1,libc.so.6} "$r/lib/aarch64-linux-gnu/"
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$r/lib/ld-linux-aarch64.so.1"
tar -xzf "$tarball" -C "$r/kselftest"
# The host kernel has no BINFMT_SCRIPT: init starts the shell, which reads
# the script and runs the runner. The runner logs to /dev/stdout, which a
# devtmpfs lacks (udev makes it): the links every distribution has.
ln -s ../bin/busybox "$r/tests/sh"
cat > "$r/kselftest.sh" <<-'EOF'
	export PATH=/bin:/usr/bin
	/bin/busybox --install -s /bin
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	cd /kselftest && exec sh ./run_kselftest.sh -c kvm
EOF
per_test=$(sed -n 's/^timeout=//p' "$inst/kvm/settings")
nr=$(grep -c '^kvm:' "$inst/kselftest-list.txt")
budget=$(( nr * ${per_test:-45} + 120 ))
echo "sh $budget /kselftest.sh" > "$r/tests/list"
cp "$out/init" "$r/init"
(cd "$r" && find . | cpio -o -H newc -R 0:0 --quiet) > "$run/initramfs.cpio"

# 4. Boot, parse, compare.
rm -rf "$res"
mkdir -p "$res"
say "kselftest: host $host runs run_kselftest.sh -c kvm ($nr tests, ${per_test}s each at most)"
start=$(date +%s)
rc=0
boot_host "$host" "$image" "$run/initramfs.cpio" "$res" $((budget + 300)) || rc=$?
echo "$(( $(date +%s) - start ))" > "$res/seconds"
[ $rc = 0 ] || say "kselftest: qemu exited with $rc (124 = host timeout); see ${res#$TOP/}/qemu.log"
python3 "$TOP/harness/results.py" kselftest "kselftest-$host" "$res"

echo "run_kselftest.sh -c kvm on $host, $(cat "$res/seconds")s (${res#$TOP/}):"
awk '/^    (not )?ok [0-9]+ selftests: / {
		sub(/^    /, "  "); print
		if (/^  not ok/) f++; else if (/# SKIP/) s++; else p++
	}
	END { printf "runner: %d ok, %d ok # SKIP, %d not ok (of %d listed)\n", p, s, f, '"$nr"' }' \
	"$res/results.ktap"
awk -F'\t' '{ n[$4]++ } END { printf "rows:  %d passed, %d failed, %d skipped, %d expected failures\n",
	n["pass"], n["fail"], n["skip"], n["xfail"] }' "$res/summary.tsv"
echo "tarball: ${tarball#$TOP/} ($(du -h "$tarball" | cut -f1))"
echo

# make check's rows on v3: the last run's if it ran every vgic test on this
# kernel, else the vgic group now.
ref=$RESULTS/$host
fresh=1
[ -f "$ref/summary.tsv" ] && [ "$ref/summary.tsv" -nt "$image" ] || fresh=0
for t in $(awk -F'\t' '!/^#/ && $3 ~ /(^|,)vgic(,|$)/ { print $1 }' "$TESTS"); do
	grep -q "^$host	$t	" "$ref/summary.tsv" 2>/dev/null || fresh=0
done
if [ $fresh = 0 ]; then
	say "kselftest: no make check rows of $host for this kernel: running the vgic group"
	"$TOP/harness/run.sh" "$host" vgic
fi
python3 "$TOP/harness/results.py" vgic-compare "$ref/summary.tsv" "$res/summary.tsv"
