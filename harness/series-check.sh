#!/bin/bash
# make series-check: patches/ applies to a fresh base with git am and with quilt.
. "$(dirname "$0")/lib.sh"

dir=$BUILD/series-check
rm -rf "$dir"
mkdir -p "$dir"
fail=0

extract_base "$dir/git"
git_base_commit "$dir/git"
for p in $(series_patches); do
	if ! git -C "$dir/git" am -q "$TOP/patches/$p" >"$dir/git-am.log" 2>&1; then
		say "series-check: git am fails on $p:"; cat "$dir/git-am.log" >&2
		fail=1
		break
	fi
done
[ $fail = 0 ] && say "series-check: git am applies $(series_patches | wc -l) patches"

extract_base "$dir/quilt"
if [ -n "$(series_patches)" ]; then
	if ! (cd "$dir/quilt" && QUILT_PATCHES="$TOP/patches" quilt push -a -q) >"$dir/quilt.log" 2>&1; then
		say "series-check: quilt push -a fails:"; tail -20 "$dir/quilt.log" >&2
		fail=1
	fi
fi
[ $fail = 0 ] && say "series-check: quilt push -a applies $(series_patches | wc -l) patches"

# The two applications must give the same tree.
if [ $fail = 0 ] && ! diff -r -q -x .git -x .pc "$dir/git" "$dir/quilt" >"$dir/diff.log"; then
	say "series-check: git am and quilt give different trees:"; head "$dir/diff.log" >&2
	fail=1
fi
rm -rf "$dir/git" "$dir/quilt"
exit $fail
