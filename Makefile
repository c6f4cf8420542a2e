# Thin entry points; the work is in harness/. See README.md.
BASE_VERSION ?= 6.12.117-1~deb12u1
HOSTS ?= v2 v3 nvhe a64fx v4 prot
export BASE_VERSION EXTRA_SELFTESTS

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

clean:
	rm -rf build/out build/run build/results build/series-check

.PHONY: all tree refresh series-check build check check-debug fuzz kselftest check-migrate check-vmm coverage bench profile clean
