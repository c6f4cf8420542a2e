#!/bin/bash
# make: build the series (kernel, selftests) and run the vGIC save/restore
# selftests (group "vgic" of tests.tsv) on the v3 host, with a short report.
. "$(dirname "$0")/lib.sh"

"$TOP/harness/build.sh" host
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
"$TOP/harness/run.sh" v3 vgic

out=$OUT/host
cat <<REPORT

== vGIC save/restore series on $SRC_PKG $BASE_VERSION
series:    ${PATCHES#$TOP/}/ ($(series_patches | wc -l) patches; ${TREE#$TOP/} is the tree with one commit each)
kernel:    ${out#$TOP/}/kernel/arch/arm64/boot/Image
selftests: ${out#$TOP/}/selftests/
results:   ${RESULTS#$TOP/}/v3/ (console.log, results.ktap, one .ktap per test)

ran on the emulated v3 host (GICv3 + ITS, $(cat "$RESULTS/v3/seconds")s):
REPORT
# One line per test: its result, or its subtests counted by result.
awk -F'\t' '
	!($2 in seen) { seen[$2] = 1; order[++n] = $2 }
	{ count[$2, $4]++; total[$2]++; if ($3 == "-") whole[$2] = $4 }
	END {
		for (i = 1; i <= n; i++) {
			t = order[i]
			# fail, else xfail, else pass; skip only when every subtest skipped
			r = count[t, "fail"] ? "fail" : count[t, "xfail"] ? "xfail" : count[t, "pass"] ? "pass" : "skip"
			if (t in whole && total[t] == 1) { printf "  %-6s %s\n", r, t; continue }
			printf "  %-6s %s: %d subtests, %d passed%s%s\n", r, t, total[t], count[t, "pass"],
				count[t, "fail"] ? ", " count[t, "fail"] " failed" : "",
				count[t, "skip"] ? ", " count[t, "skip"] " skipped" : ""
		}
	}' "$RESULTS/v3/summary.tsv"
echo "  ('make check' runs every test on every host)"
if grep -q '# report: ' "$RESULTS/v3/vgic_migrate.ktap" 2>/dev/null; then
	echo
	echo "the round trip (vgic_migrate, its first move in QEMU's order):"
	sed -n 's/^ *# report: /  /p' "$RESULTS/v3/vgic_migrate.ktap"
fi
echo
python3 "$TOP/harness/results.py" summary | tail -1
