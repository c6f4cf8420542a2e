#!/bin/bash
# make series-check: the series is one maintainers can take.
#  0. no UAPI number the series adds is one mainline assigns (the table
#     harness/uapi-taken.tsv, with a public source for each number);
#  1. patches/ applies to a fresh base with git am and with quilt push -a,
#     and both give the same tree;
#  2. checkpatch.pl --strict is silent on every patch;
#  3. every prefix of the series builds what its patch touches (KVM objects,
#     KVM selftests), so the series bisects;
#  4. sparse (C=2) and W=1 report nothing on arch/arm64/kvm (and the other C
#     files the series changes) that the base does not already report (only
#     when the series touches kernel code);
#  5. every .rst the series touches parses with docutils, and every
#     non-static function the series adds to kernel code has kernel-doc;
#  6. arch/arm64/kvm also builds with Debian's production arm64 config
#     (linux-config-<BASE>:arm64) with no warning the base does not have.
# Each failure is printed; the exit status is non-zero if any check failed.
# BASE=7.3 checks patches/7.3/ on linux-source-7.3 in build/series-check-7.3;
# an empty series is only applied (steps 2-6 have nothing to check).
. "$(dirname "$0")/lib.sh"

dir=$BUILD/series-check$SFX
rm -rf "$dir"
mkdir -p "$dir"
fail=0
n=$(series_patches | wc -l)
bad() { say "series-check: FAIL: $*"; fail=1; }
ok() { say "series-check: ok: $*"; }

# 0. UAPI numbers, from the patches alone (nothing to extract or build).
if python3 "$TOP/harness/uapi-check.py" "$TOP/patches" >"$dir/uapi-check.log" 2>&1; then
	ok "no UAPI number the series adds is taken in mainline ($(tail -1 "$dir/uapi-check.log" | sed 's/^uapi-check: //'))"
else
	bad "UAPI numbers taken in mainline (harness/uapi-taken.tsv):"; grep -v ': ok: ' "$dir/uapi-check.log" >&2 || true
fi

# 1. Apply. The same layout as build/ (linux[-7.3]/, out[-7.3]/host/kernel/),
# so that the compiler sees the same relative paths and ccache reuses what
# 'make build' compiled.
G=$dir/${TREE##*/}
extract_base "$G"
git_base_commit "$G"
applied=1
for p in $(series_patches); do
	if ! git -C "$G" am -q "$PATCHES/$p" >"$dir/git-am.log" 2>&1; then
		bad "git am fails on $p"; cat "$dir/git-am.log" >&2
		applied=0
		break
	fi
done
[ $applied = 1 ] && ok "git am applies $n patches on $BASE_VERSION"

extract_base "$dir/quilt"
if [ "$n" -gt 0 ] && ! (cd "$dir/quilt" && QUILT_PATCHES="$PATCHES" quilt push -a -q) >"$dir/quilt.log" 2>&1; then
	bad "quilt push -a fails"; tail -20 "$dir/quilt.log" >&2
	applied=0
else
	ok "quilt push -a applies $n patches"
fi
if [ $applied = 1 ]; then
	if diff -r -q -x .git -x .pc "$G" "$dir/quilt" >"$dir/diff.log"; then
		ok "git am and quilt give the same tree"
	else
		bad "git am and quilt give different trees"; head "$dir/diff.log" >&2
	fi
fi
rm -rf "$dir/quilt"
[ $applied = 1 ] || exit 1
if [ "$n" = 0 ]; then
	ok "${PATCHES#$TOP/}/series is empty: nothing to check beyond applying it on $SRC_PKG $BASE_VERSION"
	rm -rf "$G"
	exit 0
fi

# 2. checkpatch. Its "added, moved or deleted file(s), does MAINTAINERS need
# updating?" (FILE_PATH_CHANGES) fires on every new file whatever MAINTAINERS
# says; answer it instead: every file a patch adds is covered by the
# KVM/arm64 entry of MAINTAINERS. UNKNOWN_COMMIT_ID is off too: the base is
# a source tarball without history, so checkpatch cannot resolve any commit
# id a message cites (Fixes: tags, mainline commits); the ids come from the
# public sources the messages name. Their format is still checked
# (GIT_COMMIT_ID).
for p in $(series_patches); do
	msg=$(cd "$G" && ./scripts/checkpatch.pl --strict --quiet --no-summary \
		--ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID "$PATCHES/$p" 2>&1) ||
		{ bad "checkpatch --strict on $p:"; printf '%s\n' "$msg" >&2; continue; }
	[ -z "$msg" ] || { bad "checkpatch --strict on $p:"; printf '%s\n' "$msg" >&2; }
	for f in $(awk '/^diff --git /{f=substr($4, 3)} /^new file mode/{print f}' "$PATCHES/$p"); do
		(cd "$G" && ./scripts/get_maintainer.pl --nogit --nogit-fallback --subsystem \
			--nom --nol --norolestats -f "$f") | grep -qx 'KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)' ||
			bad "$p adds $f, which no KVM/arm64 MAINTAINERS entry covers"
	done
done
[ $fail = 0 ] && ok "checkpatch --strict is silent on $n patches"

# 3. Every prefix builds what its patch touches.
out=$dir/${OUT##*/}/host
frag=$dir/fragment.config
cat "$TOP/configs/host.config" > "$frag"
kmake() { kernel_make "$G" "$out/kernel" "$@"; }
smake() { selftests_make "$G" "$out" "$@"; }
touches_kernel() { git -C "$G" diff --name-only "$1" -- . ':!tools' ':!Documentation' | grep -q .; }
# The objects of the C files that revisions $@ change outside arch/arm64/kvm
# (built with it: e.g. a genirq fix the vGIC tests need)
other_objs() { git -C "$G" diff --name-only "$@" -- '*.c' ':!tools' ':!arch/arm64/kvm' | sed 's/\.c$/.o/'; }
objs=$(other_objs base main)
kmake KCONFIG_ALLCONFIG="$frag" allnoconfig >"$dir/config.log" 2>&1
i=0
for c in $(git -C "$G" rev-list --reverse base..HEAD); do
	i=$((i + 1))
	git -C "$G" checkout -q "$c"
	subject=$(git -C "$G" log -1 --format=%s)
	files=$(git -C "$G" diff --name-only "$c^" "$c")
	log=$dir/build-$i.log
	if [ $i = 1 ] || grep -qv '^tools/\|^Documentation/' <<<"$files"; then
		kmake arch/arm64/kvm/ $(other_objs "$c^" "$c") >"$log" 2>&1 ||
			{ bad "patch $i ($subject): arch/arm64/kvm or what else it changes does not build"; tail -20 "$log" >&2; }
		kmake INSTALL_HDR_PATH="$out/headers" headers_install >>"$log" 2>&1
	fi
	if [ $i = 1 ] || grep -q '^tools/testing/selftests/kvm/\|^include/uapi/\|^arch/arm64/include/uapi/' <<<"$files"; then
		smake >>"$log" 2>&1 || { bad "patch $i ($subject): the KVM selftests do not build"; tail -20 "$log" >&2; }
	fi
done
git -C "$G" checkout -q main
[ $fail = 0 ] && ok "each of the $n prefixes builds"

# 4. sparse and W=1 on arch/arm64/kvm: nothing new against the base.
# Warnings and errors of a build log, without line numbers, one of each.
warnings() { { grep -E 'warning|error' "$1" || true; } | sed -E 's/:[0-9]+(:[0-9]+)?:/:/' | sort -u; }
lint() {	# $1: revision, $2: output file of normalised warnings
	git -C "$G" checkout -q "$1"
	kmake C=2 W=1 CHECK="sparse" arch/arm64/kvm/ $objs >/dev/null 2>"$2.log" || return 1
	warnings "$2.log" > "$2"
}
if touches_kernel base; then
	if ! command -v sparse >/dev/null; then
		bad "sparse is not installed (.ci/run installs it)"
	else
		if ! lint base "$dir/lint-base.txt" || ! lint main "$dir/lint-series.txt"; then
			bad "arch/arm64/kvm does not build with C=2 W=1"; tail -20 "$dir"/lint-*.log >&2
		elif new=$(comm -13 "$dir/lint-base.txt" "$dir/lint-series.txt") && [ -n "$new" ]; then
			bad "sparse/W=1 warnings the base does not have:"; printf '%s\n' "$new" >&2
		else
			ok "sparse and W=1 report nothing new on arch/arm64/kvm"
		fi
	fi
	git -C "$G" checkout -q main
else
	ok "sparse and W=1: the series touches no kernel code"
fi

# 5. Documentation: touched .rst files parse; new external functions have kernel-doc.
rst=$(git -C "$G" diff --name-only base..main -- '*.rst')
if [ -n "$rst" ]; then
	(cd "$G" && python3 "$TOP/harness/rst-check.py" $rst) || bad "Documentation .rst does not parse"
fi
(cd "$G" && python3 "$TOP/harness/kdoc-check.py") || bad "kernel-doc missing"
[ $fail = 0 ] && ok "documentation checks"

# 6. Debian's production arm64 config: KVM builds, no new warnings.
dout=$dir/${OUT##*/}/debian/kernel
mkdir -p "$dout"
cfg=$(debian_arm64_config)
cp "$cfg" "$dout/.config"
dmake() { kernel_make "$G" "$dout" "$@"; }
dwarn() {	# $1: revision, $2: output file of normalised warnings
	git -C "$G" checkout -q "$1"
	dmake arch/arm64/kvm/ $objs >/dev/null 2>"$2.log" || return 1
	warnings "$2.log" > "$2"
}
dmake olddefconfig >"$dir/debian-config.log" 2>&1
if ! dwarn base "$dir/debian-base.txt" || ! dwarn main "$dir/debian-series.txt"; then
	bad "arch/arm64/kvm does not build with Debian's arm64 config"
	tail -20 "$dir/debian-series.txt.log" >&2
else
	new=$(comm -13 "$dir/debian-base.txt" "$dir/debian-series.txt")
	if [ -n "$new" ]; then
		bad "new warnings with Debian's arm64 config:"; printf '%s\n' "$new" >&2
	else
		ok "arch/arm64/kvm builds with Debian's arm64 config, no new warnings"
	fi
fi
git -C "$G" checkout -q main

rm -rf "$G" "$dir/${OUT##*/}"
exit $fail
