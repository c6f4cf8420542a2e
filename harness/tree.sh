#!/bin/bash
# make tree: build/linux = the pinned base as one commit, then one commit per
# patch of patches/series, applied with git am.
# With --ensure: create the tree when it is missing, otherwise only check that
# it matches patches/ (a build never runs on a tree that differs from the series).
. "$(dirname "$0")/lib.sh"

create_tree() {
	local p
	if [ -d "$TREE/.git" ] && [ "${FORCE:-0}" != 1 ]; then
		if [ -n "$(git -C "$TREE" status --porcelain --untracked-files=no)" ]; then
			die "build/linux has uncommitted edits; commit them and 'make refresh', or 'make tree FORCE=1' to drop them"
		fi
		if [ -f "$TREE/.git/kst-base-version" ] && ! tree_in_sync; then
			die "build/linux has commits that patches/ does not; 'make refresh' keeps them, 'make tree FORCE=1' drops them"
		fi
	fi
	say "tree: extracting linux-source-6.12 $BASE_VERSION into build/linux"
	rm -rf "$TREE" "$TREE.tmp"
	extract_base "$TREE"
	git_base_commit "$TREE"
	for p in $(series_patches); do
		git -C "$TREE" am -q "$TOP/patches/$p" ||
			die "patches/$p does not apply with git am (see build/linux, 'git am --show-current-patch')"
	done
	say "tree: build/linux has $(series_patches | wc -l) patches on base $BASE_VERSION"
}

if [ "${1:-}" = --ensure ]; then
	if [ ! -d "$TREE/.git" ]; then
		create_tree
	elif ! tree_in_sync; then
		die "build/linux differs from patches/ (or from BASE_VERSION=$BASE_VERSION):
       'make refresh' writes the tree's commits to patches/, 'make tree' rebuilds the tree from patches/"
	elif [ -n "$(git -C "$TREE" status --porcelain --untracked-files=no)" ]; then
		say "warning: build/linux has uncommitted edits; they are built and tested but are not in patches/"
	fi
else
	create_tree
fi
