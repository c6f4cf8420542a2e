// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the Linux guest that 'make check-vmm' runs, stops, migrates and
 * resets with QEMU (run by harness/vmm-migrate.c inside the emulated host;
 * the guest kernel is the host's own Image).
 *
 * At start it leaves marks in its distributor that Linux never sets: the
 * last SPI gets the other group, priority 0x40, edge triggering, vCPU 1 as
 * target and a pending latch, an SPI in the lower half vCPU 1 as target,
 * while both stay disabled, and prints "vmm-guest: GICv<n>, ..." (by this
 * line vmm-migrate counts the boots).  Then, every 200 ms, it reads 64 bytes
 * from the virtio RNG (one device interrupt or more: an MSI through the ITS on
 * GICv3, an SPI on GICv2) and prints
 *
 *   tick <n> timer <arch timer irqs> dev <virtio irqs> edu <edu MSIs> gic <state>
 *
 * where <state> sums up every guest-visible configuration register of the
 * distributor and of vCPU 0's redistributor (or banked GICv2 registers) that
 * only the guest changes: a migration must carry it over unchanged.  Pending
 * and active bits are left out (the devices change them), except for the
 * marked SPI's.  The GIC version comes from "vmm.gic=2|3" on the command line.
 *
 * If the VM has QEMU's edu PCI device (1234:11e8: on host v4, the host's own
 * edu, assigned with vfio-pci), the guest drives it from user space through
 * VFIO's no-IOMMU mode (vfio.enable_unsafe_noiommu_mode=1 on the command
 * line): it binds edu to vfio-pci, signals its MSI to an eventfd and writes
 * edu's raise-interrupt register at every tick; "edu" counts the eventfd's
 * completions (0 without the device).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* The QEMU virt machine's GIC frames. */
#define GICD_BASE	0x08000000UL
#define GICR_BASE	0x080a0000UL	/* vCPU 0: RD_base, then SGI_base */
#define GIC_SIZE	0x10000UL

#define GICD_CTLR	0x0000
#define GICD_TYPER	0x0004
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ISPENDR	0x0200
#define GICD_IPRIORITYR	0x0400
#define GICD_ITARGETSR	0x0800
#define GICD_ICFGR	0x0c00
#define GICD_IROUTER	0x6000

#define EDU_RAISE	0x60	/* edu's BAR 0: a write raises its interrupt */

static volatile uint32_t *gicd, *sgi, *edu;
static int edu_eventfd = -1;
static int gic_version, nr_irqs;

static uint32_t rd(volatile uint32_t *base, unsigned long off)
{
	return base[off / 4];
}

static void wr(volatile uint32_t *base, unsigned long off, uint32_t val)
{
	base[off / 4] = val;
}

static volatile uint32_t *map(int fd, unsigned long pa)
{
	void *p = mmap(NULL, GIC_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pa);

	if (p == MAP_FAILED) {
		perror("vmm-guest: mmap /dev/mem");
		exit(1);
	}
	return p;
}

/* FNV-1a over the registers [from, to) of one frame, 32 bits at a time. */
static uint32_t hash(volatile uint32_t *base, unsigned long from, unsigned long to)
{
	uint32_t h = 2166136261u;
	unsigned long off;
	int i;

	for (off = from; off < to; off += 4) {
		uint32_t v = rd(base, off);

		for (i = 0; i < 4; i++)
			h = (h ^ ((v >> (8 * i)) & 0xff)) * 16777619u;
	}
	return h;
}

static void set_field(volatile uint32_t *base, unsigned long reg, int irq,
		      int bits, uint32_t val)
{
	unsigned long off = reg + (unsigned long)irq * bits / 32 * 4;
	int shift = irq * bits % 32;
	uint32_t mask = ((1u << bits) - 1) << shift;

	wr(base, off, (rd(base, off) & ~mask) | (val << shift));
}

static uint32_t get_field(volatile uint32_t *base, unsigned long reg, int irq, int bits)
{
	unsigned long off = reg + (unsigned long)irq * bits / 32 * 4;

	return (rd(base, off) >> (irq * bits % 32)) & ((1u << bits) - 1);
}

static void set_target(int irq)
{
	if (gic_version == 2)
		set_field(gicd, GICD_ITARGETSR, irq, 8, 0x02);
	else
		wr(gicd, GICD_IROUTER + 8 * irq, 1);	/* Aff0 = 1: vCPU 1 */
}

static uint32_t get_target(int irq)
{
	if (gic_version == 2)
		return get_field(gicd, GICD_ITARGETSR, irq, 8);
	return rd(gicd, GICD_IROUTER + 8 * irq);
}

/*
 * The marks: the last SPI gets everything different from what Linux
 * programs; an SPI in the lower half only gets vCPU 1 as its target.
 */
static void mark(void)
{
	int irq = nr_irqs - 1;

	set_field(gicd, GICD_IGROUPR, irq, 1, gic_version == 2 ? 1 : 0);
	set_field(gicd, GICD_IPRIORITYR, irq, 8, 0x40);
	set_field(gicd, GICD_ICFGR, irq, 2, 2);
	set_target(irq);
	wr(gicd, GICD_ISPENDR + irq / 32 * 4, 1u << (irq % 32));
	set_target(32 + (nr_irqs - 32) / 4);
}

/*
 * The targets (GICv2) or routes (GICv3) of the SPIs are summed up in two
 * halves, "tgt" below nr_irqs / 2 and "tgt2" from there on, with one mark
 * in each ("route" and "route2"): QEMU (7.2, 10.0 and 11.1 alike) saves and
 * restores the GICv3 routes at a 4-byte stride instead of 8
 * (arm_gicv3_kvm.c), so only the lower half survives a migration there.
 */
static void state(char *buf, size_t len)
{
	int irq = nr_irqs - 1, irq2 = 32 + (nr_irqs - 32) / 4, n = nr_irqs, half = n / 2;
	uint32_t grp, en, prio, cfg, tgt, tgt2, priv;

	grp = hash(gicd, GICD_IGROUPR, GICD_IGROUPR + n / 8);
	en = hash(gicd, GICD_ISENABLER, GICD_ISENABLER + n / 8);
	prio = hash(gicd, GICD_IPRIORITYR, GICD_IPRIORITYR + n);
	cfg = hash(gicd, GICD_ICFGR, GICD_ICFGR + n / 4);
	if (gic_version == 2) {
		tgt = hash(gicd, GICD_ITARGETSR + 32, GICD_ITARGETSR + half);
		tgt2 = hash(gicd, GICD_ITARGETSR + half, GICD_ITARGETSR + n);
		priv = 0;	/* banked: the GICD reads above are vCPU 0's */
	} else {
		tgt = hash(gicd, GICD_IROUTER + 8 * 32, GICD_IROUTER + 8 * half);
		tgt2 = hash(gicd, GICD_IROUTER + 8 * half, GICD_IROUTER + 8 * n);
		priv = hash(sgi, GICD_IGROUPR, GICD_IGROUPR + 4) ^
		       hash(sgi, GICD_ISENABLER, GICD_ISENABLER + 4) * 3 ^
		       hash(sgi, GICD_IPRIORITYR, GICD_IPRIORITYR + 32) * 5 ^
		       hash(sgi, GICD_ICFGR, GICD_ICFGR + 8) * 7;
	}
	snprintf(buf, len,
		 "ctlr=%08x grp=%08x en=%08x prio=%08x cfg=%08x priv=%08x tgt=%08x tgt2=%08x "
		 "mark=%d:g%u,p%02x,c%u,pend%u route=%d:%x route2=%d:%x",
		 rd(gicd, GICD_CTLR), grp, en, prio, cfg, priv, tgt, tgt2, irq,
		 get_field(gicd, GICD_IGROUPR, irq, 1),
		 get_field(gicd, GICD_IPRIORITYR, irq, 8),
		 get_field(gicd, GICD_ICFGR, irq, 2),
		 get_field(gicd, GICD_ISPENDR, irq, 1),
		 irq2, get_target(irq2), irq, get_target(irq));
}

/* Sum the per-CPU counts of the arch timer's and the virtio lines of /proc/interrupts. */
static void count_irqs(unsigned long *timer, unsigned long *dev)
{
	char line[512];
	FILE *f = fopen("/proc/interrupts", "r");

	*timer = *dev = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *end;
		unsigned long sum = 0;

		if (!p)
			continue;
		for (p++;; p = end) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
		if (strstr(line, "arch_timer"))
			*timer += sum;
		else if (strstr(line, "virtio"))
			*dev += sum;
	}
	fclose(f);
}

/* Write 'val' to the sysfs file 'path'. */
static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* The value of sysfs attribute 'attr' of PCI device 'bdf' (a hex number), -1 if none. */
static long pci_attr(const char *bdf, const char *attr)
{
	char path[320], val[32];
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, val, sizeof(val) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	val[n] = 0;
	return strtol(val, NULL, 16);
}

/* The PCI address of an edu device (vendor 1234, device 11e8), 0 if there is none. */
static int find_edu(char *bdf, size_t len)
{
	DIR *dir = opendir("/sys/bus/pci/devices");
	struct dirent *d;
	int found = 0;

	while (dir && !found && (d = readdir(dir)))
		if (pci_attr(d->d_name, "vendor") == 0x1234 && pci_attr(d->d_name, "device") == 0x11e8)
			found = snprintf(bdf, len, "%s", d->d_name) > 0;
	if (dir)
		closedir(dir);
	return found;
}

/*
 * Bind edu ('bdf') to vfio-pci, open it through its no-IOMMU group, map BAR
 * 0, make it a bus master and signal its MSI to edu_eventfd.  NULL on
 * success, else the step that failed (errno says why).
 */
static const char *edu_open(const char *bdf)
{
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	char path[320], link[128], irqs[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (void *)irqs;
	int container, group = -1, dev, i;
	uint16_t cmd;
	void *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (put(path, "vfio-pci") || put("/sys/bus/pci/drivers_probe", bdf))
		return "bind to vfio-pci";
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return "no (no-IOMMU) group: is vfio.enable_unsafe_noiommu_mode=1 set?";
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/noiommu-%s", strrchr(link, '/') + 1);
	for (i = 0; i < 50 && group < 0; i++) {	/* devtmpfs creates the node */
		group = open(path, O_RDWR);
		if (group < 0)
			usleep(20 * 1000);
	}
	container = open("/dev/vfio/vfio", O_RDWR);
	if (group < 0 || container < 0)
		return "open /dev/vfio/vfio and /dev/vfio/noiommu-<group>";
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU))
		return "VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(VFIO_NOIOMMU_IOMMU)";
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0 || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar) ||
	    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return "VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_REGION_INFO";
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, bar.offset);
	if (p == MAP_FAILED)
		return "mmap BAR 0";
	/* An MSI is a memory write: edu must be a bus master. */
	if (pread(dev, &cmd, 2, cfg.offset + PCI_COMMAND) != 2)
		return "read PCI_COMMAND";
	cmd |= PCI_COMMAND_MASTER;
	if (pwrite(dev, &cmd, 2, cfg.offset + PCI_COMMAND) != 2)
		return "write PCI_COMMAND";
	edu_eventfd = eventfd(0, EFD_NONBLOCK);
	*set = (struct vfio_irq_set){
		.argsz = sizeof(irqs), .index = VFIO_PCI_MSI_IRQ_INDEX, .count = 1,
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	};
	memcpy(set->data, &edu_eventfd, sizeof(int));
	if (edu_eventfd < 0 || ioctl(dev, VFIO_DEVICE_SET_IRQS, set))
		return "VFIO_DEVICE_SET_IRQS (MSI to an eventfd)";
	edu = p;
	return NULL;
}

int main(void)
{
	struct timespec period = { 0, 200 * 1000 * 1000 };
	char cmdline[1024] = "", gic[256], buf[64], bdf[256];
	unsigned long timer, dev, edu_msis = 0;
	const char *err = NULL;
	uint64_t done;
	cpu_set_t cpu0;
	int fd, rng, n;
	FILE *con;

	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	con = fopen("/dev/console", "w");
	if (!con)
		return 1;
	setvbuf(con, NULL, _IOLBF, 0);

	fd = open("/proc/cmdline", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	cmdline[n > 0 ? n : 0] = 0;
	gic_version = strstr(cmdline, "vmm.gic=2") ? 2 : 3;

	/* Banked registers are read from vCPU 0. */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	sched_setaffinity(0, sizeof(cpu0), &cpu0);

	fd = open("/dev/mem", O_RDWR | O_SYNC);
	rng = open("/dev/hwrng", O_RDONLY);
	if (fd < 0 || rng < 0) {
		fprintf(con, "vmm-guest: cannot open /dev/mem or /dev/hwrng\n");
		return 1;
	}
	gicd = map(fd, GICD_BASE);
	if (gic_version == 3)
		sgi = map(fd, GICR_BASE + GIC_SIZE);
	nr_irqs = 32 * ((rd(gicd, GICD_TYPER) & 0x1f) + 1);
	if (nr_irqs > 1020)
		nr_irqs = 1020;
	mark();
	if (find_edu(bdf, sizeof(bdf)))
		err = edu_open(bdf);
	fprintf(con, "vmm-guest: GICv%d, %d interrupts, mark on SPI %d\n",
		gic_version, nr_irqs, nr_irqs - 1);
	if (err)
		fprintf(con, "vmm-guest: edu %s: %s: %s\n", bdf, err, strerror(errno));
	else if (edu)
		fprintf(con, "vmm-guest: edu %s: vfio-pci, no-IOMMU, MSI to an eventfd\n", bdf);

	for (n = 0;; n++) {
		if (read(rng, buf, sizeof(buf)) <= 0)
			fprintf(con, "vmm-guest: /dev/hwrng read failed\n");
		if (edu) {
			if (read(edu_eventfd, &done, sizeof(done)) == sizeof(done))
				edu_msis += done;
			edu[EDU_RAISE / 4] = 1;	/* counted at the next tick */
		}
		count_irqs(&timer, &dev);
		state(gic, sizeof(gic));
		fprintf(con, "tick %d timer %lu dev %lu edu %lu gic %s\n", n, timer, dev, edu_msis, gic);
		nanosleep(&period, NULL);
	}
}
