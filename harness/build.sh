#!/bin/bash
# Build one kernel configuration from build/linux: the arm64 Image, the
# uapi headers, the KVM selftests (static) and the in-VM init, into
# build/out/<config>/. Usage: build.sh [config] (a config is fragments joined
# by '+', e.g. host+debug = configs/host.config then configs/debug.config).
. "$(dirname "$0")/lib.sh"

config=${1:-host}
out=$BUILD/out/$config
mkdir -p "$out"
"$TOP/harness/tree.sh" --ensure

command -v ccache >/dev/null || die "ccache is missing: .ci/run lists what to install"
kmake() { kernel_make "$TREE" "$out/kernel" "$@"; }

# Kernel configuration: allnoconfig plus the fragments, each option checked.
frag=$out/fragment.config
for f in ${config//+/ }; do
	[ -f "$TOP/configs/$f.config" ] || die "no configs/$f.config"
	cat "$TOP/configs/$f.config"
done > "$frag.new"
if ! cmp -s "$frag.new" "$frag" || [ ! -f "$out/kernel/.config" ]; then
	mkdir -p "$out/kernel"
	kmake KCONFIG_ALLCONFIG="$frag.new" allnoconfig
	bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$out/kernel/.config" || { say "config: $line did not stick"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			! grep -q "^$opt=" "$out/kernel/.config" || { say "config: $opt is still set"; bad=1; } ;;
		esac
	done < "$frag.new"
	[ $bad = 0 ] || die "configs/ asks for options that Kconfig refused (dependencies?)"
	mv "$frag.new" "$frag"
fi
rm -f "$frag.new"

say "build: kernel ($config)"
kmake Image
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
