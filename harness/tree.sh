#!/bin/bash
# make tree: build/linux = the pinned base as one commit, then one commit per
# patch of patches/series, applied with git am (BASE=7.3: build/linux-7.3 and
# patches/7.3/series).
# With --ensure: create the tree when it is missing, otherwise only check that
# it matches patches/ (a build never runs on a tree that differs from the series).
. "$(dirname "$0")/lib.sh"

create_tree() {
	local p t=${TREE#$TOP/}
	if [ -d "$TREE/.git" ] && [ "${FORCE:-0}" != 1 ]; then
		if [ -n "$(git -C "$TREE" status --porcelain --untracked-files=no)" ]; then
			die "$t has uncommitted edits; commit them and 'make refresh', or 'make tree FORCE=1' to drop them"
		fi
		if [ -f "$TREE/.git/kst-base-version" ] && ! tree_in_sync; then
			die "$t has commits that ${PATCHES#$TOP/}/ does not; 'make refresh' keeps them, 'make tree FORCE=1' drops them"
		fi
	fi
	say "tree: extracting $SRC_PKG $BASE_VERSION into $t"
	rm -rf "$TREE" "$TREE.tmp"
	extract_base "$TREE"
	git_base_commit "$TREE"
	for p in $(series_patches); do
		git -C "$TREE" am -q "$PATCHES/$p" ||
			die "${PATCHES#$TOP/}/$p does not apply with git am (see $t, 'git am --show-current-patch')"
	done
	say "tree: $t has $(series_patches | wc -l) patches on base $BASE_VERSION"
}

if [ "${1:-}" = --ensure ]; then
	if [ ! -d "$TREE/.git" ]; then
		create_tree
	elif ! tree_in_sync; then
		die "${TREE#$TOP/} differs from ${PATCHES#$TOP/}/ (or from BASE_VERSION=$BASE_VERSION):
       'make refresh' writes the tree's commits to ${PATCHES#$TOP/}/, 'make tree' rebuilds the tree from it"
	elif [ -n "$(git -C "$TREE" status --porcelain --untracked-files=no)" ]; then
		say "warning: ${TREE#$TOP/} has uncommitted edits; they are built and tested but are not in ${PATCHES#$TOP/}/"
	fi
else
	create_tree
fi
