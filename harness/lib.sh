# Shared settings and helpers for the harness scripts (sourced, not run).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
BASE_VERSION=${BASE_VERSION:-6.12.117-1~deb12u1}
TREE=$BUILD/linux
RESULTS=${RESULTS:-$BUILD/results}
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

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The patches in series order (quilt's series file; comments and blanks skipped).
series_patches() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/patches/series"
}

# Print the path of the linux-source-6.12 tarball for $BASE_VERSION, fetching
# the package with apt from Debian's archive when the installed one differs.
base_tarball() {
	local have deb dir=$BUILD/debs
	have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	if [ "$have" = "$BASE_VERSION" ] && [ -f /usr/src/linux-source-6.12.tar.xz ]; then
		echo /usr/src/linux-source-6.12.tar.xz
		return
	fi
	if [ ! -f "$dir/$BASE_VERSION/linux-source-6.12.tar.xz" ]; then
		mkdir -p "$dir/$BASE_VERSION"
		say "fetching linux-source-6.12=$BASE_VERSION with apt (installed: ${have:-none})"
		(cd "$dir/$BASE_VERSION" && apt-get download "linux-source-6.12=$BASE_VERSION" >&2) ||
			die "apt cannot fetch linux-source-6.12=$BASE_VERSION. Run 'apt-get update' as root;
       'apt-cache policy linux-source-6.12' lists the versions Debian's archive serves."
		deb=$(ls "$dir/$BASE_VERSION"/linux-source-6.12_*.deb)
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO ./usr/src/linux-source-6.12.tar.xz > "$dir/$BASE_VERSION/linux-source-6.12.tar.xz.tmp"
		mv "$dir/$BASE_VERSION/linux-source-6.12.tar.xz.tmp" "$dir/$BASE_VERSION/linux-source-6.12.tar.xz"
		rm -f "$deb"
	fi
	echo "$dir/$BASE_VERSION/linux-source-6.12.tar.xz"
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
	git -C "$dir" commit -q -m "base: linux-source-6.12 $BASE_VERSION"
	git -C "$dir" tag base
	echo "$BASE_VERSION" > "$dir/.git/kst-base-version"
}

# Write the commits of build/linux on top of the base as patch files into
# directory $1, the same bytes every time for the same commits. Subjects are
# not numbered ("[PATCH]"), so adding a patch does not rewrite the others.
format_series() {
	local out=$1
	git -C "$TREE" -c core.abbrev=12 -c diff.noprefix=false -c diff.renames=true \
		format-patch -q --zero-commit --no-signature --no-cover-letter \
		--no-thread --no-numbered -o "$out" base..HEAD >/dev/null
}

# Check build/linux against patches/: same base version and same patches.
tree_in_sync() {
	local tmp f rc=0
	[ "$(cat "$TREE/.git/kst-base-version" 2>/dev/null)" = "$BASE_VERSION" ] || return 1
	tmp=$(mktemp -d)
	format_series "$tmp"
	(cd "$tmp" && ls) > "$tmp/.names"
	series_patches | diff -q - "$tmp/.names" >/dev/null || rc=1
	if [ $rc = 0 ]; then
		for f in $(series_patches); do
			cmp -s "$TOP/patches/$f" "$tmp/$f" || { rc=1; break; }
		done
	fi
	rm -rf "$tmp"
	return $rc
}

# Print the path of Debian's production arm64 kernel config for $BASE_VERSION
# (package linux-config-6.12:arm64, fetched with apt into build/debs/). The
# archive keeps only the newest arm64 binaries; for an older BASE_VERSION the
# newest config is used, and the choice is printed.
debian_arm64_config() {
	local dir=$BUILD/debs/$BASE_VERSION cfg=config.arm64_none_arm64 ver=$BASE_VERSION
	if [ ! -f "$dir/$cfg" ]; then
		mkdir -p "$dir"
		if ! apt-cache madison linux-config-6.12:arm64 | awk -F' [|] ' '{ print $2 }' |
				grep -qxF "$ver"; then
			ver=$(apt-cache policy linux-config-6.12:arm64 | sed -n 's/^ *Candidate: //p')
			[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
				die "apt knows no linux-config-6.12:arm64. As root:
       'dpkg --add-architecture arm64 && apt-get update' (.ci/run does this)."
			say "linux-config-6.12:arm64=$BASE_VERSION is not in the archive; using $ver"
		fi
		(cd "$dir" && apt-get download "linux-config-6.12:arm64=$ver" >&2) ||
			die "apt cannot fetch linux-config-6.12:arm64=$ver"
		dpkg-deb --fsys-tarfile "$dir"/linux-config-6.12_*_arm64.deb |
			tar -xO "./usr/src/linux-config-6.12/$cfg.xz" | xz -d > "$dir/$cfg.tmp"
		mv "$dir/$cfg.tmp" "$dir/$cfg"
		rm -f "$dir"/linux-config-6.12_*_arm64.deb
	fi
	echo "$dir/$cfg"
}

# Configure and build the arm64 Image of kernel tree $1 in object directory $2
# from configuration $3: allnoconfig plus the configs/ fragments named in $3
# (joined by '+'), each option checked after Kconfig ran.
kernel_build() {
	local tree=$1 obj=$2 config=$3 frag f line opt bad=0
	command -v ccache >/dev/null || die "ccache is missing: .ci/run lists what to install"
	frag=$obj/fragment.config
	mkdir -p "$obj"
	for f in ${config//+/ }; do
		[ -f "$TOP/configs/$f.config" ] || die "no configs/$f.config"
		cat "$TOP/configs/$f.config"
	done > "$frag.new"
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

# Build the unpatched base (a worktree of build/linux at tag 'base') with
# the host config, into build/out/base/kernel.
build_base_kernel() {
	local base_tree=$BUILD/linux-base
	if [ ! -d "$base_tree" ] || [ "$(git -C "$base_tree" rev-parse HEAD)" != "$(git -C "$TREE" rev-parse base)" ]; then
		rm -rf "$base_tree"
		git -C "$TREE" worktree prune
		git -C "$TREE" worktree add -q --detach "$base_tree" base
	fi
	kernel_build "$base_tree" "$BUILD/out/base/kernel" host
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
