#!/bin/bash
# make: build the series (kernel, selftests) and run the vGIC save/restore
# selftests (group "vgic" of tests.tsv) on the v3 host, with a short report.
. "$(dirname "$0")/lib.sh"

"$TOP/harness/build.sh" host
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
"$TOP/harness/run.sh" v3 vgic

out=$BUILD/out/host
cat <<REPORT

== vGIC save/restore series on linux-source-6.12 $BASE_VERSION
series:    patches/ ($(series_patches | wc -l) patches; build/linux is the tree with one commit each)
kernel:    ${out#$TOP/}/kernel/arch/arm64/boot/Image
selftests: ${out#$TOP/}/selftests/
results:   build/results/v3/ (console.log, results.ktap, one .ktap per test)

ran on the emulated v3 host (GICv3 + ITS, $(cat "$RESULTS/v3/seconds")s):
REPORT
awk -F'\t' '{ printf "  %-6s %s%s\n", $4, $2, ($3 == "-" ? "" : " / " $3) }' "$RESULTS/v3/summary.tsv" |
	grep -v '^  pass   .* / ' || true
echo "  (subtests that passed are counted, not listed; 'make check' runs every host and test)"
echo
python3 "$TOP/harness/results.py" summary | tail -1
