#!/bin/bash
# Build one kernel configuration from build/linux: the arm64 Image, the
# uapi headers, the KVM selftests (static) and the in-VM init, into
# build/out/<config>/ (BASE=7.3: from build/linux-7.3 into build/out-7.3/).
# Usage: build.sh [config] (a config is fragments joined by '+', e.g.
# host+debug = configs/host.config then configs/debug.config).
. "$(dirname "$0")/lib.sh"

config=${1:-host}
out=$OUT/$config
mkdir -p "$out"
"$TOP/harness/tree.sh" --ensure

kernel_build "$TREE" "$out/kernel" "$config"
kmake() { kernel_make "$TREE" "$out/kernel" "$@"; }
kmake INSTALL_HDR_PATH="$out/headers" headers_install

say "build: KVM selftests"
smake() { selftests_make "$TREE" "$out" "$@"; }
smake
rm -rf "$out/selftests/extra"
if [ -n "${EXTRA_SELFTESTS:-}" ]; then
	dir=$(cd "$EXTRA_SELFTESTS" && pwd) || die "EXTRA_SELFTESTS=$EXTRA_SELFTESTS is not a directory"
	say "build: extra selftests from $dir"
	smake -f Makefile -f "$TOP/harness/extra-selftests.mk" EXTRA_SELFTESTS_DIR="$dir" extra-selftests
fi

${CROSS_COMPILE}gcc -static -O2 -Wall -Werror -o "$out/init" "$TOP/harness/init.c"
