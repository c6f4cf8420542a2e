#!/bin/bash
# make check-migrate: vgic_migrate with many seeds (tests.tsv group "soak") on
# the v2 and v3 hosts. Too long for 'make check', which runs 20 seeds.
. "$(dirname "$0")/lib.sh"

"$TOP/harness/build.sh" host
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
for h in v2 v3; do
	"$TOP/harness/run.sh" "$h" soak
done
python3 "$TOP/harness/results.py" summary
