#!/bin/bash
# Boot one emulated host with the tests of a group and collect the results.
# Usage: run.sh HOST [GROUP]   (GROUP: all (every row but the soak and fuzz ones) or a
# group name from tests.tsv; default: the host's tests column in hosts.tsv)
# Writes build/results/<host>/{console.log,results.ktap,<test>.ktap,summary.tsv}
# (BASE=7.3: build/results-7.3/<host>/, the tests of harness/tests-7.3.tsv).
# TIMEOUT_SCALE=N multiplies every test's timeout (make check-debug: 4).
. "$(dirname "$0")/lib.sh"

host=$1
config=$(awk -F'\t' -v h="$host" '$1 == h { print $2 }' "$TOP/harness/hosts.tsv")
group=${2:-$(awk -F'\t' -v h="$host" '$1 == h { print $6 }' "$TOP/harness/hosts.tsv")}
[ -n "$config" ] || die "no host '$host' in harness/hosts.tsv"

out=$OUT/$config
res=$RESULTS/$host
rootfs=$RUN/$host/rootfs
rm -rf "$res" "$rootfs"
mkdir -p "$res" "$rootfs/tests"
[ -x "$out/init" ] || die "${out#$TOP/} is not built: 'make BASE=$BASE build'"

# The test list: tests.tsv rows of the group, then the EXTRA_SELFTESTS ones.
budget=0
while IFS=$'\t' read -r name timeout groups args; do
	case "$name" in \#*|"") continue ;; esac
	if [ "$group" = all ]; then
		[[ ",$groups," != *",soak,"* && ",$groups," != *",fuzz,"* ]] || continue
	else
		[[ ",$groups," == *",$group,"* ]] || continue
	fi
	bin=$(find "$out/selftests" -maxdepth 2 -type f -name "$name" | head -1)
	[ -n "$bin" ] || die "selftest $name is not built"
	cp "$bin" "$rootfs/tests/"
	[ "$args" = - ] && args=
	timeout=$((timeout * ${TIMEOUT_SCALE:-1}))
	echo "$name $timeout $args" >> "$rootfs/tests/list"
	budget=$((budget + timeout))
done < "$TESTS"
if [ -n "${EXTRA_SELFTESTS:-}" ]; then
	for bin in "$out"/selftests/extra/*; do
		[ -x "$bin" ] || continue
		cp "$bin" "$rootfs/tests/"
		echo "$(basename "$bin") 300" >> "$rootfs/tests/list"
		budget=$((budget + 300))
	done
fi
cp "$out/init" "$rootfs/init"
(cd "$rootfs" && find . | cpio -o -H newc -R 0:0 --quiet) > "$RUN/$host/initramfs.cpio"

say "run: host $host ($(wc -l < "$rootfs/tests/list") tests, config $config)"
start=$(date +%s)
rc=0
boot_host "$host" "$out/kernel/arch/arm64/boot/Image" "$RUN/$host/initramfs.cpio" \
	"$res" $((budget + 300)) || rc=$?
echo "$(( $(date +%s) - start ))" > "$res/seconds"
[ $rc = 0 ] || say "run: qemu for $host exited with $rc (124 = host timeout); see $res/qemu.log"
python3 "$TOP/harness/results.py" host "$host" "$res"
