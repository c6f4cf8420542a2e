#!/bin/bash
# make check: the series applies (git am, quilt), everything builds, and every
# host of the matrix runs every test. Usage: check.sh HOST...
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || set -- v2 v3 nvhe a64fx v4 prot
rm -rf "$RESULTS"
mkdir -p "$RESULTS/series"
start=$(date +%s)

# A step that fails becomes a failed row, so the summary still says what broke.
step() {
	local name=$1; shift
	local t0=$(date +%s) rc=0
	"$@" > "$RESULTS/series/$name.log" 2>&1 || rc=$?
	say "check: $name: $([ $rc = 0 ] && echo ok || echo FAILED) ($(( $(date +%s) - t0 ))s)"
	printf 'series\t%s\t-\t%s\t%s\n' "$name" "$([ $rc = 0 ] && echo pass || echo fail)" \
		"$([ $rc = 0 ] || echo "see ${RESULTS#$TOP/}/series/$name.log")" >> "$RESULTS/series/summary.tsv"
	[ $rc = 0 ] || tail -20 "$RESULTS/series/$name.log" >&2
	return $rc
}

step series-check "$TOP/harness/series-check.sh" || true
configs=$(for h in "$@"; do awk -F'\t' -v h="$h" '$1 == h { print $2 }' "$TOP/harness/hosts.tsv"; done | sort -u)
built=1
for c in $configs; do
	step "build-$c" "$TOP/harness/build.sh" "$c" || built=0
done
if [ $built = 1 ]; then
	for h in "$@"; do
		t0=$(date +%s)
		"$TOP/harness/run.sh" "$h"
		say "check: host $h done ($(( $(date +%s) - t0 ))s)"
	done
fi
say "check: $(( $(date +%s) - start ))s in all; results in ${RESULTS#$TOP/}/summary.tsv"
python3 "$TOP/harness/results.py" summary
