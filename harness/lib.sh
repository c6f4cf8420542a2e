# Shared settings and helpers for the harness scripts (sourced, not run).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The base: BASE=6.12 (the default) or BASE=7.3, each a linux-source-<BASE>
# package of Debian's archive pinned in the Makefile (BASE_VERSION_6_12,
# BASE_VERSION_7_3; BASE_VERSION overrides the pin). 6.12 keeps the paths it
# always had; any other base has its own tree, outputs, results, patches and
# test lists, so that runs of two bases never mix:
#   tree build/linux[-7.3], outputs build/out[-7.3], initramfs build/run[-7.3],
#   results build/results[-7.3], series patches/[7.3/], tests
#   harness/tests[-7.3].tsv, known failures harness/xfail[-7.3].tsv.
# BASE_SUITE is the Debian suite apt fetches the base from: "bookworm" is
# this machine's own apt, any other suite a private one (suite_apt).
BASE=${BASE:-6.12}
case $BASE in
6.12) SFX= BASE_SUITE=bookworm PATCHES=$TOP/patches ;;
7.3) SFX=-7.3 BASE_SUITE=trixie-backports PATCHES=$TOP/patches/7.3 ;;
*) die "BASE=$BASE: the bases are 6.12 and 7.3" ;;
esac
[ -n "${BASE_VERSION:-}" ] ||
	BASE_VERSION=$(sed -n "s/^BASE_VERSION_${BASE//./_} ?= //p" "$TOP/Makefile")
[[ $BASE_VERSION == "$BASE".* ]] || die "BASE_VERSION=$BASE_VERSION is not a version of base $BASE"
SRC_PKG=linux-source-$BASE
TREE=$BUILD/linux$SFX
OUT=$BUILD/out$SFX
RUN=$BUILD/run$SFX
RESULTS=${RESULTS:-$BUILD/results$SFX}
TESTS=$TOP/harness/tests$SFX.tsv
XFAIL=$TOP/harness/xfail$SFX.tsv
export BASE BASE_VERSION RESULTS TESTS XFAIL
ARCH=arm64
CROSS_COMPILE=aarch64-linux-gnu-
JOBS=${JOBS:-$(( $(nproc) + 1 ))}
export ARCH CROSS_COMPILE
# Debian's python3 (with the apt-installed docutils and ply the checks use)
# before any pyenv or virtualenv of the user's.
export PATH=/usr/bin:/bin:$PATH
# Paths below the checkout are hashed relative to it: a fresh clone elsewhere hits the cache.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1

# Identity for the commits the harness makes in build trees.
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-vGIC series}
export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-vgic-series@localhost.invalid}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL

# The patches in series order (quilt's series file; comments and blanks skipped).
series_patches() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES/series"
}

# suite_apt SUITE COMMAND...: run the apt COMMAND for Debian's SUITE. Bookworm
# is this machine's own apt. A newer suite gets a private configuration in
# build/apt/<suite>: its own sources list (Debian's archive, checked against
# the archive keys of this machine's debian-archive-keyring, which has
# trixie's), lists, cache and an empty dpkg status; /etc/apt and the
# machine's lists are not touched. A backports suite is preferred over its
# base suite, as "apt-get -t <suite>" does.
suite_apt() {
	local s=$1 d=$BUILD/apt/$1 x
	shift
	if [ "$s" = bookworm ]; then
		"$@"
		return
	fi
	mkdir -p "$d/etc/apt.conf.d" "$d/etc/preferences.d" "$d/etc/sources.list.d" \
		"$d/lists/partial" "$d/cache/archives/partial"
	touch "$d/status"
	for x in ${s%-backports} $([[ $s == *-backports ]] && echo "$s"); do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $x main"
	done > "$d/etc/sources.list"
	cat > "$d/apt.conf" <<-EOF
	Dir::Etc "$d/etc";
	Dir::State "$d";
	Dir::State::lists "$d/lists";
	Dir::State::status "$d/status";
	Dir::Cache "$d/cache";
	APT::Architecture "amd64";
	APT::Architectures { "amd64"; "arm64"; };
	Acquire::Languages "none";
	EOF
	[[ $s != *-backports ]] || echo "APT::Default-Release \"$s\";" >> "$d/apt.conf"
	APT_CONFIG=$d/apt.conf "$@"
}

# base_apt COMMAND...: run the apt COMMAND for the base's suite; a private
# suite's lists are brought up to date first.
base_apt() {
	if [ "$BASE_SUITE" != bookworm ]; then
		suite_apt "$BASE_SUITE" apt-get -q update >/dev/null ||
			die "apt-get update of Debian's $BASE_SUITE (private, build/apt/$BASE_SUITE) failed"
	fi
	suite_apt "$BASE_SUITE" "$@"
}

# The versions of $SRC_PKG that Debian's archive serves (make base-versions).
base_versions() {
	base_apt apt-cache madison "$SRC_PKG"
}

# Print the path of the $SRC_PKG tarball for $BASE_VERSION. For 6.12 that is
# the installed package's when its version matches; otherwise apt fetches the
# package from Debian's archive ($BASE_SUITE; apt checks it against the
# archive's signed Release file) into build/debs/<version>/ once.
base_tarball() {
	local have deb dir=$BUILD/debs/$BASE_VERSION tar=$SRC_PKG.tar.xz
	have=$(dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null || true)
	if [ "$have" = "$BASE_VERSION" ] && [ -f "/usr/src/$tar" ]; then
		echo "/usr/src/$tar"
		return
	fi
	if [ ! -f "$dir/$tar" ]; then
		mkdir -p "$dir"
		say "fetching $SRC_PKG=$BASE_VERSION from Debian's $BASE_SUITE with apt (installed: ${have:-none})"
		(cd "$dir" && base_apt apt-get download "$SRC_PKG=$BASE_VERSION" >&2) ||
			die "apt cannot fetch $SRC_PKG=$BASE_VERSION.$([ "$BASE_SUITE" != bookworm ] || echo " Run 'apt-get update' as root;")
       'make BASE=$BASE base-versions' lists the versions Debian's archive serves."
		deb=$(ls "$dir/$SRC_PKG"_*.deb)
		[ "$(dpkg-deb -f "$deb" Version)" = "$BASE_VERSION" ] || die "$deb is not version $BASE_VERSION"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO "./usr/src/$tar" > "$dir/$tar.tmp"
		mv "$dir/$tar.tmp" "$dir/$tar"
		rm -f "$deb"
	fi
	echo "$dir/$tar"
}

# Extract the pristine base into directory $1 (which must not exist).
extract_base() {
	local dest=$1 tarball
	tarball=$(base_tarball)
	mkdir -p "$dest.tmp"
	tar -xf "$tarball" -C "$dest.tmp" --strip-components=1
	mv "$dest.tmp" "$dest"
}

# make in kernel tree $1, objects in $2 (arm64 cross build through ccache).
kernel_make() {
	local tree=$1 obj=$2; shift 2
	make -s -C "$tree" O="$obj" CC="ccache ${CROSS_COMPILE}gcc" -j"$JOBS" "$@"
}

# Build the KVM selftests of kernel tree $1, static, against the uapi headers
# in $2/headers, into $2/selftests.
# No CCACHE_BASEDIR here: ccache would write the dependency files with
# relative target paths, which never match the Makefile's absolute $(OUTPUT)
# targets, so objects would not be rebuilt when a header changes.
selftests_make() {
	local tree=$1 out=$2; shift 2
	CCACHE_BASEDIR= make -s -C "$tree/tools/testing/selftests/kvm" -j"$JOBS" \
		CC="ccache ${CROSS_COMPILE}gcc" EXTRA_CFLAGS=-static LDFLAGS="-static -pthread" \
		KHDR_INCLUDES="-isystem $out/headers/include" OUTPUT="$out/selftests" "$@"
}

# Make directory $1 (an extracted base) a git tree whose first commit is the base.
git_base_commit() {
	local dir=$1
	git -C "$dir" init -q -b main
	git -C "$dir" config core.autocrlf false
	git -C "$dir" config gc.auto 0	# no background repack of 80,000 loose objects
	git -C "$dir" add -Af	# Debian's tarball ignores everything with '/*'
	git -C "$dir" commit -q -m "base: $SRC_PKG $BASE_VERSION"
	git -C "$dir" tag base
	echo "$BASE_VERSION" > "$dir/.git/kst-base-version"
}

# Write the commits of $TREE on top of the base as patch files into
# directory $1, the same bytes every time for the same commits. Subjects are
# not numbered ("[PATCH]"), so adding a patch does not rewrite the others.
format_series() {
	local out=$1
	git -C "$TREE" -c core.abbrev=12 -c diff.noprefix=false -c diff.renames=true \
		format-patch -q --zero-commit --no-signature --no-cover-letter \
		--no-thread --no-numbered -o "$out" base..HEAD >/dev/null
}

# Check $TREE against $PATCHES: same base version and same patches.
tree_in_sync() {
	local tmp f rc=0
	[ "$(cat "$TREE/.git/kst-base-version" 2>/dev/null)" = "$BASE_VERSION" ] || return 1
	tmp=$(mktemp -d)
	format_series "$tmp"
	(cd "$tmp" && ls) > "$tmp/.names"
	series_patches | diff -q - "$tmp/.names" >/dev/null || rc=1
	if [ $rc = 0 ]; then
		for f in $(series_patches); do
			cmp -s "$PATCHES/$f" "$tmp/$f" || { rc=1; break; }
		done
	fi
	rm -rf "$tmp"
	return $rc
}

# Print the path of Debian's production arm64 kernel config for $BASE_VERSION
# (package linux-config-<BASE>:arm64, fetched with apt into build/debs/). The
# archive keeps only the newest arm64 binaries; for an older BASE_VERSION the
# newest config is used, and the choice is printed.
debian_arm64_config() {
	local dir=$BUILD/debs/$BASE_VERSION cfg=config.arm64_none_arm64 ver=$BASE_VERSION pkg=linux-config-$BASE
	if [ ! -f "$dir/$cfg" ]; then
		mkdir -p "$dir"
		if ! base_apt apt-cache madison "$pkg:arm64" | awk -F' [|] ' '{ print $2 }' |
				grep -qxF "$ver"; then
			ver=$(suite_apt "$BASE_SUITE" apt-cache policy "$pkg:arm64" | sed -n 's/^ *Candidate: //p')
			[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
				die "apt knows no $pkg:arm64. As root:
       'dpkg --add-architecture arm64 && apt-get update' (.ci/run does this)."
			say "$pkg:arm64=$BASE_VERSION is not in the archive; using $ver"
		fi
		(cd "$dir" && suite_apt "$BASE_SUITE" apt-get download "$pkg:arm64=$ver" >&2) ||
			die "apt cannot fetch $pkg:arm64=$ver"
		dpkg-deb --fsys-tarfile "$dir/$pkg"_*_arm64.deb |
			tar -xO "./usr/src/$pkg/$cfg.xz" | xz -d > "$dir/$cfg.tmp"
		mv "$dir/$cfg.tmp" "$dir/$cfg"
		rm -f "$dir/$pkg"_*_arm64.deb
	fi
	echo "$dir/$cfg"
}

# Configure and build the arm64 Image of kernel tree $1 in object directory $2
# from configuration $3: allnoconfig plus the configs/ fragments named in $3
# (joined by '+'), each option checked after Kconfig ran. The fragments name
# 6.12's options; configs/renames-<BASE>.tsv gives the new names of those a
# later base renamed or merged (old name, new name, why).
kernel_build() {
	local tree=$1 obj=$2 config=$3 frag f line opt bad=0 renames=$TOP/configs/renames-$BASE.tsv
	command -v ccache >/dev/null || die "ccache is missing: .ci/run lists what to install"
	frag=$obj/fragment.config
	mkdir -p "$obj"
	for f in ${config//+/ }; do
		[ -f "$TOP/configs/$f.config" ] || die "no configs/$f.config"
		cat "$TOP/configs/$f.config"
	done > "$frag.new"
	if [ -f "$renames" ]; then
		awk -F'\t' 'NR == FNR { if ($0 !~ /^#/ && NF >= 2) new["CONFIG_" $1] = "CONFIG_" $2; next }
			{ for (o in new) if (index($0, o "=") == 1 || index($0, "# " o " ") == 1) sub(o, new[o]); print }' \
			"$renames" "$frag.new" > "$frag.renamed"
		mv "$frag.renamed" "$frag.new"
	fi
	if ! cmp -s "$frag.new" "$frag" || [ ! -f "$obj/.config" ]; then
		kernel_make "$tree" "$obj" KCONFIG_ALLCONFIG="$frag.new" allnoconfig
		while read -r line; do
			case "$line" in
			CONFIG_*=*) grep -qxF "$line" "$obj/.config" || { say "config: $line did not stick"; bad=1; } ;;
			"# CONFIG_"*" is not set")
				opt=${line#\# }; opt=${opt%% *}
				! grep -q "^$opt=" "$obj/.config" || { say "config: $opt is still set"; bad=1; } ;;
			esac
		done < "$frag.new"
		[ $bad = 0 ] || die "configs/ asks for options that Kconfig refused (dependencies?)"
		mv "$frag.new" "$frag"
	fi
	rm -f "$frag.new"
	say "build: kernel ($config, ${tree#$TOP/})"
	kernel_make "$tree" "$obj" Image
}

# Build the unpatched base (a worktree of $TREE at tag 'base', $TREE-base)
# with the host config, into $OUT/base/kernel.
build_base_kernel() {
	local base_tree=$TREE-base
	if [ ! -d "$base_tree" ] || [ "$(git -C "$base_tree" rev-parse HEAD)" != "$(git -C "$TREE" rev-parse base)" ]; then
		rm -rf "$base_tree"
		git -C "$TREE" worktree prune
		git -C "$TREE" worktree add -q --detach "$base_tree" base
	fi
	kernel_build "$base_tree" "$OUT/base/kernel" host
}

# Boot emulated host $1 (a row of hosts.tsv) with kernel Image $2 and
# initramfs $3 for at most $5 seconds; the console goes to $4/console.log, the
# virtio console (the results) to $4/results.ktap. Returns QEMU's exit code.
# QEMU_EXTRA (an array, if set) goes on QEMU's command line.
boot_host() {
	local host=$1 image=$2 initramfs=$3 res=$4 timeout=$5 line machine cpu cmdline devices rc=0
	line=$(awk -F'\t' -v h="$host" '$1 == h' "$TOP/harness/hosts.tsv")
	[ -n "$line" ] || die "no host '$host' in harness/hosts.tsv"
	IFS=$'\t' read -r _ _ machine cpu cmdline _ devices <<< "$line"
	[ "$cmdline" = - ] && cmdline=
	[ "$devices" = - ] && devices=
	local board=(-M "virt,virtualization=on,$machine" -cpu "$cpu" -smp 4 -m 4G) dtb=()
	# A64FX's cache lines (CTR_EL0.CWG: 256 bytes) exceed the kernel's
	# ARCH_DMA_MINALIGN (128), and the kernel WARNs for every non-coherent DMA
	# device. Under TCG, DMA is coherent: say so in QEMU's device tree.
	if [[ $cpu == a64fx* ]]; then
		local dtc=${image%/arch/arm64/boot/Image}/scripts/dtc/dtc
		# -nic none as below: the default NIC needs efi-virtio.rom
		# (ipxe-qemu), which a machine without recommends lacks.
		qemu-system-aarch64 "${board[@]/#virt,/virt,dumpdtb=$res/virt.dtb,}" \
			-nographic -nic none > "$res/qemu.log" 2>&1 || return 1
		"$dtc" -q -I dtb -O dts "$res/virt.dtb" | sed 's|^/ {$|/ {\n\tdma-coherent;|' |
			"$dtc" -q -I dts -O dtb -o "$res/virt-coherent.dtb" || return 1
		dtb=(-dtb "$res/virt-coherent.dtb")
	fi
	timeout "$timeout" qemu-system-aarch64 "${board[@]}" "${dtb[@]}" ${QEMU_EXTRA[@]+"${QEMU_EXTRA[@]}"} $devices \
		-nographic -no-reboot -monitor none -nic none \
		-kernel "$image" -initrd "$initramfs" \
		-append "console=ttyAMA0 panic=-1 $cmdline" \
		-serial "file:$res/console.log" \
		-device virtio-serial-device \
		-chardev "file,id=results,path=$res/results.ktap" \
		-device virtconsole,chardev=results \
		> "$res/qemu.log" 2>&1 || rc=$?
	return $rc
}
