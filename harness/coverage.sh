#!/bin/bash
# make coverage: line and function coverage of arch/arm64/kvm (the vGIC and
# the other KVM files the series changes) by the vgic group of tests.tsv on
# hosts v2, v3 and v4.
#
# The kernel is build/linux with CONFIG_GCOV_KERNEL (configs/gcov.config) and
# GCOV_PROFILE := y added to arch/arm64/kvm/Makefile, in a worktree of its own
# (build/linux-cov; build/linux and patches/ are not touched; the hyp code in
# arch/arm64/kvm/hyp/ has its own Makefile and stays uninstrumented). The
# selftests and init are those of 'make build'. After the tests,
# harness/gcov-dump prints the .gcda files of debugfs into the run's KTAP;
# they are decoded next to the build's .gcno files and read with Debian's
# lcov (package lcov) and the cross gcov.
#
# Writes build/results/coverage/index.html (lcov's HTML report),
# build/results/coverage.tsv (file lines lines_hit functions functions_hit,
# paths relative to the kernel tree) and build/results/coverage/uncovered.tsv
# (file function: every function of the listed files no test reached).
. "$(dirname "$0")/lib.sh"

hosts=${COVERAGE_HOSTS:-v2 v3 v4}
tree=$TREE-cov
out=$OUT/cov
cov=$RESULTS/coverage
command -v lcov >/dev/null || die "lcov is missing: apt-get install lcov"
[ -x "$OUT/host/init" ] || die "${OUT#$TOP/}/host is not built: 'make BASE=$BASE build'"
rm -rf "$cov"
mkdir -p "$cov" "$out/selftests/extra"
start=$(date +%s)

# 1. The instrumented kernel, from a worktree at build/linux's HEAD. ccache
# without CCACHE_BASEDIR, so that the .gcno files name their sources by
# absolute path.
if [ ! -d "$tree" ] || [ "$(git -C "$tree" rev-parse HEAD)" != "$(git -C "$TREE" rev-parse HEAD)" ]; then
	rm -rf "$tree"
	git -C "$TREE" worktree prune
	git -C "$TREE" worktree add -q --detach "$tree" HEAD
fi
grep -qx 'GCOV_PROFILE := y' "$tree/arch/arm64/kvm/Makefile" ||
	echo 'GCOV_PROFILE := y' >> "$tree/arch/arm64/kvm/Makefile"
CCACHE_BASEDIR= kernel_build "$tree" "$out/kernel" host+gcov

# 2. The tests of 'make build' (hard links: run.sh looks for regular files),
# and gcov-dump, which run.sh runs last as an extra selftest.
cp -al --remove-destination "$OUT/host/selftests/." "$out/selftests/"
rm -rf "$out/selftests/extra"
mkdir -p "$out/selftests/extra"
${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -o "$out/selftests/extra/gcov-dump" \
	"$TOP/harness/gcov-dump.c"
ln -f "$OUT/host/init" "$out/init"

# 3. Each host: run, decode its counters, capture them with lcov.
infos=()
for h in $hosts; do
	find "$out/kernel" -name '*.gcda' -delete
	EXTRA_SELFTESTS=gcov-dump TIMEOUT_SCALE=2 "$TOP/harness/run.sh" "cov-$h" vgic || true
	python3 "$TOP/harness/coverage.py" gcda "$RESULTS/cov-$h/results.ktap" "$out/kernel" ||
		die "no coverage data from host $h: see ${RESULTS#$TOP/}/cov-$h/"
	lcov -q --gcov-tool "${CROSS_COMPILE}gcov" --capture --rc lcov_branch_coverage=0 \
		--directory "$out/kernel/arch/arm64/kvm" --output-file "$cov/$h.info" 2> "$cov/$h.lcov.log"
	infos+=(--add-tracefile "$cov/$h.info")
done

# 4. Merged over the hosts, limited to the tree's arch/arm64/kvm and virt/kvm.
lcov -q "${infos[@]}" --output-file "$cov/all.info"
lcov -q --extract "$cov/all.info" "$tree/arch/arm64/kvm/*" "$tree/virt/kvm/*" \
	--output-file "$cov/kvm.info"
genhtml -q --prefix "$tree" --title "vGIC series: KVM coverage by the vgic tests ($hosts)" \
	--output-directory "$cov" "$cov/kvm.info"
python3 "$TOP/harness/coverage.py" table "$cov/kvm.info" "$tree" "$RESULTS/coverage.tsv" \
	"$cov/uncovered.tsv"
say "coverage: $(( $(date +%s) - start )) s; report in ${cov#$TOP/}/index.html"
