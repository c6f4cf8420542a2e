# Thin entry points; the work is in harness/. See README.md.
# The base: BASE=6.12 (default) or BASE=7.3, each pinned to one version of
# Debian's linux-source-<BASE> (harness/lib.sh reads the pins from here).
# BASE_VERSION=... overrides the pin of the selected base.
BASE ?= 6.12
BASE_VERSION_6_12 ?= 6.12.117-1~deb12u1
BASE_VERSION_7_3 ?= 7.3.4-1~bpo13+1
BASE_VERSION ?= $(BASE_VERSION_$(subst .,_,$(BASE)))
SFX := $(if $(filter 6.12,$(BASE)),,-$(BASE))
HOSTS ?= v2 v3 nvhe a64fx v4 prot
export BASE BASE_VERSION EXTRA_SELFTESTS

all:
	@harness/main.sh

tree:
	@harness/tree.sh

refresh:
	@harness/refresh.sh

series-check:
	@harness/series-check.sh

build:
	@harness/build.sh host

check:
	@harness/check.sh $(HOSTS)

# The debug kernel (KASAN, UBSAN, lockdep, kmemleak), 4x the timeouts: every
# test on host debug, and the vgic group on the GICv4 host v4debug.
check-debug:
	@TIMEOUT_SCALE=4 harness/check.sh debug v4debug

# vgic_fuzz with 2,000,000 operations on the v3 host (group fuzz of tests.tsv).
fuzz:
	@harness/run.sh v3 fuzz && python3 harness/results.py summary

# The KVM collection as CI on arm64 hardware runs it: the selftests' own
# install target and run_kselftest.sh on host v3; its vgic tests must pass
# as make check's do (README: "Running on arm64 hardware").
kselftest:
	@harness/build.sh host
	@harness/kselftest.sh

check-migrate:
	@harness/soak.sh

check-vmm:
	@harness/vmm.sh

# Line and function coverage of arch/arm64/kvm by the vgic group on v2, v3
# and v4: a gcov kernel, an lcov report (build/results/coverage/index.html)
# and build/results/coverage.tsv. Needs Debian's lcov.
coverage:
	@harness/coverage.sh

bench:
	@harness/bench.sh

profile:
	@harness/profile.sh

# The versions of linux-source-$(BASE) that Debian's archive serves.
base-versions:
	@bash -c '. harness/lib.sh && base_versions'

clean:
	rm -rf build/out$(SFX) build/run$(SFX) build/results$(SFX) build/series-check$(SFX)

.PHONY: all tree refresh series-check build check check-debug fuzz kselftest check-migrate check-vmm coverage bench profile base-versions clean
