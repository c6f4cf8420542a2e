// SPDX-License-Identifier: GPL-2.0
/*
 * make bench: time the vGIC save/restore operations a VMM runs while a VM is
 * stopped, and check every result it times.
 *
 * A plain KVM user (raw ioctls, no selftests library), so that the same
 * binary runs on the unpatched base and on the series. No guest code runs:
 * the ITS, collection, device, property and pending tables are built in the
 * guest's memory the way a migration source leaves them, then restored and
 * saved. Under QEMU's -icount shift=0 the clock of the emulated host counts
 * instructions: 1 ns is one instruction.
 *
 * Output: one KTAP result per measurement (not ok when the operation failed
 * or its result was wrong) and, for each, a line
 *	# bench<TAB>operation<TAB>scale<TAB>nanoseconds
 * that harness/bench.sh collects.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint8_t u8;

#define MEM_GPA		0x40000000ULL
#define MEM_SIZE	(96ULL << 20)
#define DIST_GPA	0x08000000ULL
#define ITS_GPA		0x08080000ULL
#define REDIST_GPA	0x080a0000ULL
#define MAX_VCPUS	8
#define LPI_BASE	8192
#define SZ_64K		0x10000ULL
#define REPS		3

/* ITS table entry formats of KVM's ABI revision 0 (arm-vgic-its.rst). */
#define DTE_VALID	(1ULL << 63)
#define DTE_NEXT_MAX	((1U << 14) - 1)
#define ITE_NEXT_MAX	((1U << 16) - 1)
#define CTE_VALID	(1ULL << 63)
#define L1E_VALID	(1ULL << 63)

#define GITS_BASER(n)	(0x100 + 8 * (n))
#define BASER_VALID	(1ULL << 63)
#define BASER_INDIRECT	(1ULL << 62)
#define BASER_RAWAWB	(7ULL << 59)
#define BASER_IS	(1ULL << 10)
#define BASER_64K	(2ULL << 8)
#define BASER_RO	(0x1fULL << 48 | 7ULL << 56)

#define GICR_PROPBASER	0x70
#define GICR_PENDBASER	0x78
#define GICR_CTLR	0x0
#define RDBASER_IS	(1ULL << 10)
#define RDBASER_RAWAWB	(7ULL << 7)

static int kvm_fd, test_nr, failures;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	exit(1);
}

/*
 * With --profile every clock read also calls profile_mark(): QEMU's plugin
 * harness/tbprof.c counts the instructions of each translation block
 * between two calls (a segment, numbered from 0 before the first call).
 * Each timed region is one segment; its label (the operation timed) goes
 * out as "# profile <segment> <label>".
 */
static bool profile;
static const char *timing;	/* the operation timed next */

static void __attribute__((noinline)) profile_mark(void)
{
	asm volatile("" ::: "memory");
}

static u64 now_ns(void)
{
	static int marks;
	struct timespec ts;

	if (profile) {
		profile_mark();
		if (++marks % 2 == 0)
			printf("# profile\t%d\t%s\n", marks - 1, timing);
	}

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 median(u64 *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* One measurement: the KTAP line and the figure harness/bench.sh reads. */
static void report(const char *op, const char *scale, u64 ns, const char *wrong)
{
	test_nr++;
	if (wrong) {
		failures++;
		printf("# %s, %s: %s\n", op, scale, wrong);
		printf("not ok %d %s, %s\n", test_nr, op, scale);
		return;
	}
	printf("# bench\t%s\t%s\t%llu\n", op, scale, (unsigned long long)ns);
	printf("ok %d %s, %s\n", test_nr, op, scale);
	fflush(stdout);
}

struct vm {
	int fd, gic, its, nvcpus;
	int vcpu[MAX_VCPUS];
	u8 *mem;
	u64 next_gpa;
};

static int dev_attr(int fd, bool set, u32 group, u64 attr, void *val)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (u64)(unsigned long)val,
	};

	return ioctl(fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a);
}

static void dev_set(int fd, u32 group, u64 attr, void *val, const char *what)
{
	if (dev_attr(fd, true, group, attr, val))
		die("KVM_SET_DEVICE_ATTR %s", what);
}

static int create_device(int vm, u32 type)
{
	struct kvm_create_device cd = { .type = type };

	if (ioctl(vm, KVM_CREATE_DEVICE, &cd))
		die("KVM_CREATE_DEVICE type %u", type);
	return cd.fd;
}

static void *gpa_to_hva(struct vm *vm, u64 gpa)
{
	return vm->mem + (gpa - MEM_GPA);
}

static u64 gpa_alloc(struct vm *vm, u64 size, u64 align)
{
	u64 gpa = (vm->next_gpa + align - 1) & ~(align - 1);

	if (gpa + size > MEM_GPA + MEM_SIZE)
		die("guest memory layout needs more than %llu MiB", MEM_SIZE >> 20);
	vm->next_gpa = gpa + size;
	return gpa;
}

/* A VM with @nvcpus vCPUs, a vGICv3 with @spis SPIs and, if @its, an ITS. */
static void vm_create(struct vm *vm, int nvcpus, int spis, bool its)
{
	struct kvm_userspace_memory_region region;
	struct kvm_vcpu_init init;
	u64 addr;
	u32 nr_irqs = 32 + spis;
	int i;

	memset(vm, 0, sizeof(*vm));
	vm->nvcpus = nvcpus;
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap");
	region = (struct kvm_userspace_memory_region) {
		.slot = 0, .guest_phys_addr = MEM_GPA, .memory_size = MEM_SIZE,
		.userspace_addr = (u64)(unsigned long)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");
	vm->next_gpa = MEM_GPA;

	if (ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &init))
		die("KVM_ARM_PREFERRED_TARGET");
	for (i = 0; i < nvcpus; i++) {
		vm->vcpu[i] = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (vm->vcpu[i] < 0 || ioctl(vm->vcpu[i], KVM_ARM_VCPU_INIT, &init))
			die("vCPU %d", i);
	}

	vm->gic = create_device(vm->fd, KVM_DEV_TYPE_ARM_VGIC_V3);
	addr = DIST_GPA;
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &addr, "dist");
	addr = REDIST_GPA;
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &addr, "redist");
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "nr_irqs");
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "init");
	if (!its)
		return;
	vm->its = create_device(vm->fd, KVM_DEV_TYPE_ARM_VGIC_ITS);
	addr = ITS_GPA;
	dev_set(vm->its, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &addr, "its");
	dev_set(vm->its, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "its init");
}

static void vm_destroy(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		close(vm->vcpu[i]);
	close(vm->gic);
	if (vm->its)
		close(vm->its);
	close(vm->fd);
	munmap(vm->mem, MEM_SIZE);
}

/* vCPU i's MPIDR affinity, as KVM assigns it for i < 16. */
static u64 redist_attr(int vcpu, u32 offset)
{
	return (u64)vcpu << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT | offset;
}

static void redist_set64(struct vm *vm, int vcpu, u32 offset, u64 val, u64 mask)
{
	u32 lo = val, hi = val >> 32, rlo, rhi;

	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(vcpu, offset), &lo, "GICR lo");
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(vcpu, offset + 4), &hi, "GICR hi");
	if (dev_attr(vm->gic, false, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(vcpu, offset), &rlo) ||
	    dev_attr(vm->gic, false, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(vcpu, offset + 4), &rhi))
		die("GICR read");
	if ((((u64)rhi << 32 | rlo) & mask) != (val & mask))
		die("GICR 0x%x of vCPU %d reads 0x%llx, wrote 0x%llx", offset, vcpu,
		    (unsigned long long)((u64)rhi << 32 | rlo), (unsigned long long)val);
}

static void its_set_baser(struct vm *vm, int n, u64 val)
{
	u64 cur;

	if (dev_attr(vm->its, false, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_BASER(n), &cur))
		die("GITS_BASER%d read", n);
	val |= cur & BASER_RO;
	dev_set(vm->its, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_BASER(n), &val, "GITS_BASER");
	if (dev_attr(vm->its, false, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_BASER(n), &cur) || cur != val)
		die("GITS_BASER%d reads 0x%llx, wrote 0x%llx", n,
		    (unsigned long long)cur, (unsigned long long)val);
}

/*
 * An ITS layout: devices, each with events mapped to LPIs, spread over the
 * vCPUs' collections. The tables are written in the form KVM's save writes
 * them, so a restore followed by a save gives the same bytes back.
 */
struct layout {
	const char *scale;
	int nvcpus, ndevs, nlpis;
	u32 dev_base, dev_stride;	/* device i has ID dev_base + i * dev_stride */
	int evbits;			/* each device's event ID bits */
	u32 ev_base, ev_stride;		/* its events: ev_base + j * ev_stride */
	int dt_pages;			/* 64K pages of the (level 1) device table */
	bool indirect;
	int pending_permille;		/* LPIs pending, per thousand */
	u32 scatter;			/* odd: event k's LPI is k * scatter mod nlpis */
};

struct tables {
	u64 prop, coll, dt, pend[MAX_VCPUS];
	u64 *itt;			/* per device */
	u64 l2[8];			/* level 2 pages of an indirect table */
	u64 dt_bytes, itt_bytes;	/* what a save writes, for the floor */
};

static u32 dev_id(const struct layout *l, int i) { return l->dev_base + i * l->dev_stride; }
static u32 ev_id(const struct layout *l, int j) { return l->ev_base + j * l->ev_stride; }
static int lpis_per_dev(const struct layout *l) { return l->ndevs ? l->nlpis / l->ndevs : 0; }
static int lpi_vcpu(const struct layout *l, int k) { return k % l->nvcpus; }

/*
 * The LPI of the k-th event: LPI_BASE + k, or, scattered, k * scatter modulo
 * the LPI count (a power of two, so that an odd multiplier is a permutation).
 */
static u32 lpi_intid(const struct layout *l, int k)
{
	return LPI_BASE + (l->scatter ? (k * l->scatter) % l->nlpis : (u32)k);
}

static bool lpi_pending(const struct layout *l, int k)
{
	return (k * 7919U) % 1000 < (u32)l->pending_permille;
}

/* The gpa of device @id's entry; for an indirect table, its level 2 page. */
static u64 *dte_ptr(struct vm *vm, const struct layout *l, struct tables *t, u32 id)
{
	if (!l->indirect)
		return (u64 *)gpa_to_hva(vm, t->dt) + id;
	return (u64 *)gpa_to_hva(vm, t->l2[id / 8192]) + id % 8192;
}

static void write_its_tables(struct vm *vm, const struct layout *l, struct tables *t)
{
	int i, j, v, per = lpis_per_dev(l);

	for (v = 0; v < l->nvcpus; v++)
		((u64 *)gpa_to_hva(vm, t->coll))[v] = CTE_VALID | (u64)v << 16 | v;
	for (i = 0; i < l->ndevs; i++) {
		u32 next = i + 1 < l->ndevs ? dev_id(l, i + 1) - dev_id(l, i) : 0;
		u64 *itt = gpa_to_hva(vm, t->itt[i]);

		if (next > DTE_NEXT_MAX)
			next = DTE_NEXT_MAX;
		*dte_ptr(vm, l, t, dev_id(l, i)) = DTE_VALID | (u64)next << 49 |
			(t->itt[i] >> 8) << 5 | (l->evbits - 1);
		for (j = 0; j < per; j++) {
			int k = i * per + j;
			u32 enext = j + 1 < per ? ev_id(l, j + 1) - ev_id(l, j) : 0;

			if (enext > ITE_NEXT_MAX)
				enext = ITE_NEXT_MAX;
			itt[ev_id(l, j)] = (u64)enext << 48 |
				(u64)lpi_intid(l, k) << 16 | lpi_vcpu(l, k);
		}
	}
}

static void clear_its_tables(struct vm *vm, const struct layout *l, struct tables *t)
{
	int i;

	memset(gpa_to_hva(vm, t->coll), 0, SZ_64K);
	if (!l->indirect)	/* level 1 entries are not saved: keep them */
		memset(gpa_to_hva(vm, t->dt), 0, l->dt_pages * SZ_64K);
	for (i = 0; l->indirect && i < 8; i++)
		memset(gpa_to_hva(vm, t->l2[i]), 0, SZ_64K);
	for (i = 0; i < l->ndevs; i++)
		memset(gpa_to_hva(vm, t->itt[i]), 0, (8ULL << l->evbits));
}

/* Pending bits of every LPI of vCPU @v, as a save must leave them. */
static void write_pending(struct vm *vm, const struct layout *l, struct tables *t,
			  bool want_pending)
{
	int k, v;

	for (v = 0; v < l->nvcpus; v++)
		memset(gpa_to_hva(vm, t->pend[v]), 0, SZ_64K / 8);
	if (!want_pending)
		return;
	for (k = 0; k < l->nlpis; k++) {
		u8 *pend = gpa_to_hva(vm, t->pend[lpi_vcpu(l, k)]);
		u32 intid = lpi_intid(l, k);

		if (lpi_pending(l, k))
			pend[intid / 8] |= 1 << (intid % 8);
	}
}

/* The expected tables, built in a scratch VM's memory at the same gpas. */
static const char *compare_its_tables(struct vm *vm, struct vm *ref,
				      const struct layout *l, struct tables *t)
{
	static char why[128];
	int i;

	if (memcmp(gpa_to_hva(vm, t->coll), gpa_to_hva(ref, t->coll), SZ_64K))
		return "collection table differs";
	if (memcmp(gpa_to_hva(vm, t->dt), gpa_to_hva(ref, t->dt), l->dt_pages * SZ_64K))
		return "device table differs";
	for (i = 0; l->indirect && i < 8; i++)
		if (memcmp(gpa_to_hva(vm, t->l2[i]), gpa_to_hva(ref, t->l2[i]), SZ_64K))
			return "level 2 device table differs";
	for (i = 0; i < l->ndevs; i++)
		if (memcmp(gpa_to_hva(vm, t->itt[i]), gpa_to_hva(ref, t->itt[i]), 8ULL << l->evbits)) {
			snprintf(why, sizeof(why), "ITT of device %u differs", dev_id(l, i));
			return why;
		}
	return NULL;
}

static const char *compare_pending(struct vm *vm, struct vm *ref,
				   const struct layout *l, struct tables *t)
{
	static char why[128];
	int v;

	for (v = 0; v < l->nvcpus; v++)
		if (memcmp(gpa_to_hva(vm, t->pend[v]), gpa_to_hva(ref, t->pend[v]), SZ_64K / 8)) {
			snprintf(why, sizeof(why), "pending table of vCPU %d differs", v);
			return why;
		}
	return NULL;
}

/* Lay the tables out in @vm, program the redistributors and the ITS. */
static void setup_its_vm(struct vm *vm, const struct layout *l, struct tables *t)
{
	u64 baser;
	int i, v;

	vm_create(vm, l->nvcpus, 32, true);
	t->prop = gpa_alloc(vm, SZ_64K, SZ_64K);
	for (v = 0; v < l->nvcpus; v++)
		t->pend[v] = gpa_alloc(vm, SZ_64K / 8, SZ_64K);
	t->coll = gpa_alloc(vm, SZ_64K, SZ_64K);
	t->dt = gpa_alloc(vm, l->dt_pages * SZ_64K, SZ_64K);
	for (i = 0; l->indirect && i < 8; i++) {
		t->l2[i] = gpa_alloc(vm, SZ_64K, SZ_64K);
		((u64 *)gpa_to_hva(vm, t->dt))[i] = L1E_VALID | t->l2[i];
	}
	t->itt = calloc(l->ndevs, sizeof(*t->itt));
	for (i = 0; i < l->ndevs; i++)
		t->itt[i] = gpa_alloc(vm, 8ULL << l->evbits, 256);
	t->dt_bytes = l->ndevs ? 8ULL * (dev_id(l, l->ndevs - 1) + 1) : 0;
	t->itt_bytes = l->ndevs ? 8ULL * l->ndevs * (ev_id(l, lpis_per_dev(l) - 1) + 1) : 0;

	/* Every LPI enabled, priority 0xa0. */
	memset(gpa_to_hva(vm, t->prop), 0xa1, l->nlpis);
	redist_set64(vm, 0, GICR_PROPBASER, t->prop | RDBASER_IS | RDBASER_RAWAWB | 15, ~0ULL);
	for (v = 0; v < l->nvcpus; v++)
		redist_set64(vm, v, GICR_PENDBASER, t->pend[v] | RDBASER_IS | RDBASER_RAWAWB, ~0ULL);

	baser = BASER_VALID | BASER_RAWAWB | BASER_IS | BASER_64K | t->dt | (l->dt_pages - 1);
	if (l->indirect)
		baser |= BASER_INDIRECT;
	its_set_baser(vm, 0, baser);
	its_set_baser(vm, 1, BASER_VALID | BASER_RAWAWB | BASER_IS | BASER_64K | t->coll);
}

static void its_ctrl(struct vm *vm, u64 attr, const char *what)
{
	dev_set(vm->its, KVM_DEV_ARM_VGIC_GRP_CTRL, attr, NULL, what);
}

/*
 * Let the host finish what earlier steps left behind (the RCU callbacks that
 * free a destroyed VM's LPIs, above all) before a measurement. Under
 * -icount sleep=off an idle host skips to its next timer at once.
 */
static void settle(void)
{
	usleep(100 * 1000);
}

static u64 timed_ctrl(int fd, u64 attr, const char *op, int *err)
{
	u64 t0;

	timing = op;
	settle();
	t0 = now_ns();

	*err = dev_attr(fd, true, KVM_DEV_ARM_VGIC_GRP_CTRL, attr, NULL) ? errno : 0;
	return now_ns() - t0;
}

static const char *errno_text(int err)
{
	static char why[64];

	snprintf(why, sizeof(why), "failed with errno %d (%s)", err, strerror(err));
	return why;
}

/* Time @reps saves of the pending tables (@op); zero them first if @zero. */
static const char *time_save_pending(struct vm *vm, struct vm *ref, const struct layout *l,
				     struct tables *t, const char *op, bool zero, u64 *ns)
{
	const char *wrong = NULL;
	int r, err;

	for (r = 0; r < REPS && !wrong; r++) {
		if (zero)
			write_pending(vm, l, t, false);
		ns[r] = timed_ctrl(vm->gic, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, op, &err);
		wrong = err ? errno_text(err) : compare_pending(vm, ref, l, t);
	}
	return wrong;
}

/*
 * ITS RESTORE_TABLES of @l into fresh VMs (REPS times), each checked by a
 * save into cleared tables. With @all_rows also: ITS SAVE_TABLES,
 * SAVE_PENDING_TABLES after the restore (pending tables zeroed, as a restore
 * leaves them) with @l's share of LPIs pending and with all of them, the
 * same save with the tables current, and the floor.
 */
static void bench_its(const struct layout *l, const char *restore_op, bool all_rows)
{
	u64 ns[REPS] = {}, nsp[REPS] = {}, nss[REPS] = {};
	struct layout all = *l;
	const char *wrong = NULL;
	struct tables t, tref;
	struct vm vm, ref;
	char op[96];
	int r, err = 0;
	u8 *buf;

	snprintf(op, sizeof(op), "SAVE_PENDING_TABLES, %d%% pending, tables zeroed",
		 l->pending_permille / 10);

	/* The expected tables: the same layout in a scratch VM. */
	setup_its_vm(&ref, l, &tref);
	write_its_tables(&ref, l, &tref);
	write_pending(&ref, l, &tref, true);

	for (r = 0; r < REPS && !wrong; r++) {
		setup_its_vm(&vm, l, &t);
		write_its_tables(&vm, l, &t);
		write_pending(&vm, l, &t, true);
		ns[r] = timed_ctrl(vm.its, KVM_DEV_ARM_ITS_RESTORE_TABLES, restore_op, &err);
		if (err) {
			wrong = errno_text(err);
		} else {
			/* What the restore read must come back from a save. */
			clear_its_tables(&vm, l, &t);
			nss[r] = timed_ctrl(vm.its, KVM_DEV_ARM_ITS_SAVE_TABLES, "ITS SAVE_TABLES",
					    &err);
			wrong = err ? errno_text(err) : compare_its_tables(&vm, &ref, l, &t);
		}
		if (!wrong) {
			nsp[r] = timed_ctrl(vm.gic, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, op, &err);
			wrong = err ? errno_text(err) : compare_pending(&vm, &ref, l, &t);
		}
		free(t.itt);
		vm_destroy(&vm);
	}
	report(restore_op, l->scale, median(ns, REPS), wrong);
	if (!all_rows || wrong)
		goto out;
	report("ITS SAVE_TABLES", l->scale, median(nss, REPS), NULL);
	report(op, l->scale, median(nsp, REPS), NULL);

	/* Every LPI pending: tables zeroed, then current. */
	all.pending_permille = 1000;
	write_pending(&ref, &all, &tref, true);
	setup_its_vm(&vm, &all, &t);
	write_its_tables(&vm, &all, &t);
	write_pending(&vm, &all, &t, true);
	its_ctrl(&vm, KVM_DEV_ARM_ITS_RESTORE_TABLES, "ITS RESTORE_TABLES");
	snprintf(op, sizeof(op), "SAVE_PENDING_TABLES, all pending, tables zeroed");
	wrong = time_save_pending(&vm, &ref, &all, &t, op, true, nsp);
	report(op, l->scale, median(nsp, REPS), wrong);
	snprintf(op, sizeof(op), "SAVE_PENDING_TABLES, all pending, tables current");
	if (!wrong)
		wrong = time_save_pending(&vm, &ref, &all, &t, op, false, nsp);
	report(op, l->scale, median(nsp, REPS), wrong);
	free(t.itt);
	vm_destroy(&vm);

	/* The floor: copying the bytes the saves write, in the same memory. */
	buf = malloc(t.dt_bytes + t.itt_bytes + SZ_64K / 8 * MAX_VCPUS);
	for (r = 0; r < REPS; r++) {
		u64 t0, off = 0, n;
		int i, v;

		timing = "floor: copy the saved table bytes";
		settle();
		t0 = now_ns();

		memcpy(buf, gpa_to_hva(&ref, tref.dt), tref.dt_bytes);
		off += tref.dt_bytes;
		n = tref.itt_bytes / l->ndevs;
		for (i = 0; i < l->ndevs; i++, off += n)
			memcpy(buf + off, gpa_to_hva(&ref, tref.itt[i]), n);
		n = (LPI_BASE + l->nlpis) / 8 - LPI_BASE / 8;
		for (v = 0; v < l->nvcpus; v++, off += n)
			memcpy(buf + off, (u8 *)gpa_to_hva(&ref, tref.pend[v]) + LPI_BASE / 8, n);
		ns[r] = now_ns() - t0;
	}
	free(buf);
	report(timing, l->scale, median(ns, REPS), NULL);
out:
	free(tref.itt);
	vm_destroy(&ref);
}

/*
 * The userspace register save of a vGICv3 in the order QEMU's
 * hw/intc/arm_gicv3_kvm.c reads it: distributor control, each
 * redistributor, the SPIs' distributor registers (one 32-bit register per
 * ioctl, IROUTER in two halves, line levels), then each vCPU's CPU interface.
 * The restore writes the same registers in the same order into a fresh VM
 * (the set registers only: there is nothing to clear in a fresh VM).
 */
struct reg {
	u32 group;
	u64 attr;
	u64 val;
};

#define SYSREG(op0, op1, crn, crm, op2) \
	((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2))

static int gic_regs(struct reg *regs, int nvcpus, int spis)
{
	static const u32 sysregs[] = {
		SYSREG(3, 0, 12, 12, 4),	/* ICC_CTLR_EL1 */
		SYSREG(3, 0, 4, 6, 0),		/* ICC_PMR_EL1 */
		SYSREG(3, 0, 12, 8, 3),		/* ICC_BPR0_EL1 */
		SYSREG(3, 0, 12, 8, 4),		/* ICC_AP0R0_EL1 */
		SYSREG(3, 0, 12, 12, 3),	/* ICC_BPR1_EL1 */
		SYSREG(3, 0, 12, 9, 0),		/* ICC_AP1R0_EL1 */
		SYSREG(3, 0, 12, 12, 5),	/* ICC_SRE_EL1 */
		SYSREG(3, 0, 12, 12, 6),	/* ICC_IGRPEN0_EL1 */
		SYSREG(3, 0, 12, 12, 7),	/* ICC_IGRPEN1_EL1 */
	};
	static const u32 sgi_regs[] = { 0x80, 0x100, 0x200, 0x300, 0xc04 };
	static const u32 bitmaps[] = { 0x80, 0xd00 };	/* IGROUPR, IGRPMODR */
	static const u32 bitmaps2[] = { 0x200, 0x300, 0x100 };	/* ISPENDR, ISACTIVER, ISENABLER */
	int n = 0, v, i, irqs = 32 + spis;
	unsigned int j;

#define ADD(g, a) (regs[n++] = (struct reg){ .group = (g), .attr = (a) })
	ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x0);	/* GICD_CTLR */
	ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x10);	/* GICD_STATUSR */
	for (v = 0; v < nvcpus; v++) {
		for (i = 0; i < 4; i++)			/* PROPBASER, PENDBASER */
			ADD(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(v, GICR_PROPBASER + 4 * i));
		for (j = 0; j < sizeof(sgi_regs) / sizeof(sgi_regs[0]); j++)
			ADD(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(v, 0x10000 + sgi_regs[j]));
		for (i = 0; i < 8; i++)			/* GICR_IPRIORITYR<n> */
			ADD(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(v, 0x10400 + 4 * i));
	}
	for (j = 0; j < 2; j++)
		for (i = 32; i < irqs; i += 32)
			ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, bitmaps[j] + i / 8);
	for (i = 32; i < irqs; i += 4)
		ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x400 + i);
	for (i = 32; i < irqs; i++) {
		ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x6000 + 8 * i);
		ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x6000 + 8 * i + 4);
	}
	for (i = 32; i < irqs; i += 16)
		ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0xc00 + i / 4);
	for (i = 32; i < irqs; i += 32)
		ADD(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
		    (u64)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT | i);
	for (j = 0; j < 3; j++)
		for (i = 32; i < irqs; i += 32)
			ADD(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, bitmaps2[j] + i / 8);
	for (v = 0; v < nvcpus; v++)
		for (j = 0; j < sizeof(sysregs) / sizeof(sysregs[0]); j++)
			ADD(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, (u64)v << 32 | sysregs[j]);
#undef ADD
	return n;
}

static int reg_access(struct vm *vm, struct reg *r, bool set)
{
	u32 v32 = r->val;
	int ret;

	if (r->group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)
		return dev_attr(vm->gic, set, r->group, r->attr, &r->val);
	ret = dev_attr(vm->gic, set, r->group, r->attr, &v32);
	r->val = v32;
	return ret;
}

static bool is_statusr(const struct reg *r)
{
	return r->group == KVM_DEV_ARM_VGIC_GRP_DIST_REGS && r->attr == 0x10;
}

/* Give the source some state: SPIs enabled, prioritised, routed, grouped. */
static void set_source_state(struct vm *vm, int spis)
{
	u32 val;
	int i;

	if (dev_attr(vm->gic, false, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x0, &val))
		die("GICD_CTLR read");
	val |= 0x2;	/* EnableGrp1 */
	dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x0, &val, "GICD_CTLR");
	/* LPI tables as a Linux guest programs them (before enabling LPIs). */
	redist_set64(vm, 0, GICR_PROPBASER, MEM_GPA | RDBASER_IS | RDBASER_RAWAWB | 15, ~0ULL);
	for (i = 0; i < vm->nvcpus; i++)
		redist_set64(vm, i, GICR_PENDBASER, (MEM_GPA + SZ_64K * (i + 1)) | RDBASER_IS | RDBASER_RAWAWB, ~0ULL);
	for (i = 32; i < 32 + spis; i += 32) {
		val = 0xa5a5a5a5;
		dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x100 + i / 8, &val, "ISENABLER");
		dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x80 + i / 8, &val, "IGROUPR");
	}
	for (i = 32; i < 32 + spis; i += 4) {
		val = 0x80a0c0e0;
		dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x400 + i, &val, "IPRIORITYR");
	}
	for (i = 32; i < 32 + spis; i++) {
		val = i % vm->nvcpus;
		dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0x6000 + 8 * i, &val, "IROUTER");
	}
	for (i = 32; i < 32 + spis; i += 16) {
		val = 0xaaaaaaaa;	/* every second SPI edge-triggered */
		dev_set(vm->gic, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0xc00 + i / 4, &val, "ICFGR");
	}
}

static void bench_regs(int nvcpus, int spis)
{
	static struct reg src[8192], dst[8192];
	u64 save[REPS], restore[REPS];
	const char *wrong = NULL;
	char scale[96], why[128];
	struct vm a, b;
	int n, i, r;

	n = gic_regs(src, nvcpus, spis);
	snprintf(scale, sizeof(scale), "vcpus=%d spis=%d ioctls=%d", nvcpus, spis, n);
	vm_create(&a, nvcpus, spis, false);
	set_source_state(&a, spis);
	for (r = 0; r < REPS && !wrong; r++) {
		u64 t0;

		timing = "register save, QEMU order";
		settle();
		t0 = now_ns();
		for (i = 0; i < n && !wrong; i++)
			if (reg_access(&a, &src[i], false)) {
				snprintf(why, sizeof(why), "get group %u attr 0x%llx: errno %d",
					 src[i].group, (unsigned long long)src[i].attr, errno);
				wrong = why;
			}
		save[r] = now_ns() - t0;
		if (wrong)
			break;

		vm_create(&b, nvcpus, spis, false);
		memcpy(dst, src, n * sizeof(*dst));
		timing = "register restore, QEMU order";
		settle();
		t0 = now_ns();
		for (i = 0; i < n && !wrong; i++)
			if (!is_statusr(&src[i]) && reg_access(&b, &dst[i], true)) {
				snprintf(why, sizeof(why), "set group %u attr 0x%llx: errno %d",
					 dst[i].group, (unsigned long long)dst[i].attr, errno);
				wrong = why;
			}
		restore[r] = now_ns() - t0;
		for (i = 0; i < n && !wrong; i++) {
			if (reg_access(&b, &dst[i], false) || dst[i].val != src[i].val) {
				snprintf(why, sizeof(why), "group %u attr 0x%llx reads 0x%llx after the restore, saved 0x%llx",
					 dst[i].group, (unsigned long long)dst[i].attr,
					 (unsigned long long)dst[i].val, (unsigned long long)src[i].val);
				wrong = why;
			}
		}
		vm_destroy(&b);
	}
	vm_destroy(&a);
	report("register save, QEMU order", scale, median(save, REPS), wrong);
	report("register restore, QEMU order", scale, median(restore, REPS), wrong);
}

static struct layout dense(int nlpis, int ndevs, int nvcpus)
{
	static char scales[16][64];
	static int nscales;
	struct layout l = {
		.nvcpus = nvcpus, .ndevs = ndevs, .nlpis = nlpis,
		.dev_stride = 1, .ev_stride = 1, .dt_pages = 8, .pending_permille = 100,
	};
	char *scale = scales[nscales++ % 16];

	while ((1 << l.evbits) < nlpis / ndevs)
		l.evbits++;
	if (!l.evbits)
		l.evbits = 1;
	snprintf(scale, 64, "lpis=%d devs=%d vcpus=%d", nlpis, ndevs, nvcpus);
	l.scale = scale;
	return l;
}

int main(int argc, char **argv)
{
	static const int scales[][3] = {	/* LPIs, devices, vCPUs */
		{ 1024, 16, 4 }, { 8192, 16, 4 }, { 57344, 16, 4 },
		{ 57344, 1, 4 }, { 57344, 256, 4 }, { 57344, 16, 1 }, { 57344, 16, 8 },
	};
	static const int quick_scales[][3] = { { 1024, 16, 4 } };
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	struct layout l;
	unsigned int i;

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0)
		die("/dev/kvm");
	printf("KTAP version 1\n");
	printf("# times are in ns of the host's clock; under -icount shift=0 one ns is one instruction\n");

	/* make profile: the largest dense scale and the register sequence */
	profile = argc > 1 && !strcmp(argv[1], "--profile");
	if (profile) {
		l = dense(57344, 16, 4);
		bench_its(&l, "ITS RESTORE_TABLES, dense", true);
		bench_regs(4, 960);
		printf("1..%d\n", test_nr);
		return failures ? 1 : 0;
	}

	for (i = 0; i < (quick ? 1 : sizeof(scales) / sizeof(scales[0])); i++) {
		const int *s = quick ? quick_scales[i] : scales[i];

		l = dense(s[0], s[1], s[2]);
		bench_its(&l, "ITS RESTORE_TABLES, dense", true);
	}

	/*
	 * The dense layout with each event's LPI 2049 entries from the previous
	 * one's (257 in the 1 KiB property table of --quick): every LPI in
	 * another 256-byte block of the property table than the one before,
	 * and of its vCPU's pending table than its vCPU's one before (32,768
	 * LPIs). The worst case for reading the tables through blocks.
	 */
	l = dense(quick ? 1024 : 32768, 16, 4);	/* a power of two */
	l.scatter = quick ? 257 : 2049;
	l.scale = quick ? "lpis=1024 devs=16 vcpus=4 scattered" :
			  "lpis=32768 devs=16 vcpus=4 scattered";
	bench_its(&l, "ITS RESTORE_TABLES, scattered LPIs", false);

	/* 16 devices, 4 LPIs each, at the top of a 64K-entry flat table. */
	l = dense(64, 16, 4);
	l.dev_base = 65520;
	l.scale = "lpis=64 devs=16 ids=65520-65535 table=64K entries";
	bench_its(&l, "ITS RESTORE_TABLES, high device IDs", false);
	l.dev_base = 0;
	l.scale = "lpis=64 devs=16 ids=0-15 table=64K entries";
	bench_its(&l, "ITS RESTORE_TABLES, low device IDs", false);
	/* 16 devices spread over 8 level 2 pages of a two-level table. */
	l = dense(1024, 16, 4);
	l.indirect = true;
	l.dt_pages = 1;
	l.dev_stride = 4096;
	l.scale = "lpis=1024 devs=16 ids=0,4096..61440 two-level";
	bench_its(&l, "ITS RESTORE_TABLES, two-level table", false);
	/* 16 devices with 64K-event ITTs, 4 events each at the end of each quarter. */
	l = dense(64, 16, 4);
	l.evbits = 16;
	l.ev_base = 16383;
	l.ev_stride = 16384;
	l.scale = "lpis=64 devs=16 events=16383,32767,49151,65535 of 64K";
	bench_its(&l, "ITS RESTORE_TABLES, sparse 64K-event ITTs", false);
	if (!quick) {
		/* No device at all in a 2M-entry flat table (256 64K pages). */
		l = dense(16, 1, 1);
		l.dev_base = 0;
		l.dt_pages = 256;
		l.ndevs = 0;
		l.nlpis = 0;
		l.scale = "devs=0 table=2M entries";
		bench_its(&l, "ITS RESTORE_TABLES, empty table", false);
	}

	for (i = 0; i < 6; i++) {
		static const int vcpus[] = { 1, 4, 8 }, spis[] = { 32, 960 };

		if (quick && i != 3)
			continue;
		bench_regs(vcpus[i / 2], spis[i % 2]);
	}
	printf("1..%d\n", test_nr);
	return failures ? 1 : 0;
}
