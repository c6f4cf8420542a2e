// SPDX-License-Identifier: GPL-2.0
/*
 * Runs inside the emulated arm64 host of 'make check-vmm': Debian's own
 * qemu-system-aarch64, unmodified, with -accel kvm, migrates a guest
 * (harness/vmm-guest.c on the host's own kernel) through a file:
 *
 *   1. QEMU A boots the guest; it must tick with timer and device interrupts.
 *   2. QMP "migrate" to a unix socket this program listens on; the stream is
 *      written to a file.  QEMU A is quit once the migration completed.
 *   3. QEMU B starts with "-incoming fd:3" (fd 3 is the file) and must
 *      resume the guest: ticks continue where A stopped, timer and device
 *      interrupts still arrive, and the guest reads the same GIC state
 *      (the targets of the upper half of the SPIs apart: QEMU 7.2 loses the
 *      GICv3 ones, a QEMU bug, see vmm-guest.c).
 *   4. Neither guest console shows a kernel splat.
 *
 * Usage: vmm-migrate 2|3  (GICv2 with a virtio-mmio RNG, whose interrupt is
 * an SPI; GICv3 with an ITS and a virtio-pci RNG, whose interrupts are MSIs).
 * Prints KTAP; exits 0 only when every step passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define QEMU		"/usr/bin/qemu-system-aarch64"
#define DIR		"/tmp/vmm"
#define STATE		DIR "/state"
#define MIG_SOCK	DIR "/migrate.sock"
#define NR_STEPS	8
#define TICKS_BEFORE	5	/* ticks A must print before the migration */
#define TICKS_AFTER	10	/* ticks B must print after it */
#define BOOT_TIMEOUT	300
#define TICK_TIMEOUT	120
#define MIG_TIMEOUT	300

struct tick {
	int n;
	unsigned long timer, dev;
	char gic[256];
};

/* What a VM printed: its tick lines, first and last. */
struct ticks {
	int count;
	struct tick first, last;
};

static int gic_version, step;
static int failed;

static const char *const steps[NR_STEPS] = {
	"VM A boots and takes timer and device interrupts",
	"QMP migrate of VM A to a file",
	"VM B resumes the guest where A stopped",
	"timer interrupts arrive in B",
	"device interrupts arrive in B",
	"the guest reads the same GIC state in B as in A",
	"the targets of the upper half of the SPIs survive",
	"no kernel splat on the guest consoles",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The result of the next step. */
static void result(int ok)
{
	printf("%s %d GICv%d: %s\n", ok ? "ok" : "not ok", step + 1, gic_version, steps[step]);
	step++;
	failed |= !ok;
}

/* Mark the steps a failure made unreachable, and stop. */
static void bail(const char *why)
{
	printf("# %s\n", why);
	while (step < NR_STEPS)
		result(0);
	exit(1);
}

static pid_t spawn_qemu(const char *name, int incoming_fd)
{
	char serial[128], qmp[128], log[128], machine[64], append[128];
	const char *argv[] = {
		QEMU, "-accel", "kvm", "-M", machine, "-cpu", "host",
		"-smp", "2", "-m", "256M", "-nodefaults", "-no-user-config",
		"-display", "none", "-serial", serial, "-qmp", qmp,
		"-kernel", "/guest/Image", "-initrd", "/guest/initramfs.cpio",
		"-append", append,
		"-device", gic_version == 3 ? "virtio-rng-pci" : "virtio-rng-device",
		incoming_fd >= 0 ? "-incoming" : NULL, "fd:3", NULL
	};
	int fd;
	pid_t pid;

	snprintf(serial, sizeof(serial), "file:" DIR "/%s.serial", name);
	snprintf(qmp, sizeof(qmp), "unix:" DIR "/%s.qmp,server=on,wait=off", name);
	snprintf(log, sizeof(log), DIR "/%s.log", name);
	snprintf(machine, sizeof(machine), "virt,gic-version=%d%s", gic_version,
		 gic_version == 3 ? ",its=on" : "");
	snprintf(append, sizeof(append), "console=ttyAMA0 panic=-1 vmm.gic=%d", gic_version);

	pid = fork();
	if (pid < 0)
		bail("fork failed");
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (incoming_fd >= 0)
			dup2(incoming_fd, 3);
		execv(QEMU, (char **)argv);
		fprintf(stderr, "exec " QEMU ": %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Print QEMU's own output (stdout and stderr), for a failure's diagnosis. */
static void show_log(const char *name)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), DIR "/%s.log", name);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# qemu %s: %s", name, line);
	fclose(f);
}

/* Print the last lines of a guest console, for a failure's diagnosis. */
static void show_serial(const char *name, int lines)
{
	char path[128], buf[64][320];
	int n = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), DIR "/%s.serial", name);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(buf[n % 64], sizeof(buf[0]), f))
		n++;
	fclose(f);
	for (i = n > lines ? n - lines : 0; i < n; i++)
		printf("# guest %s: %s", name, buf[i % 64]);
}

/* Print and count the kernel splats (WARN, BUG, Oops, panic, stalls) on a guest console. */
static int splats(const char *name)
{
	static const char *const kinds[] = {
		"WARNING: CPU: ", "BUG: ", "kernel BUG at", "Internal error: ",
		"Unable to handle kernel", "Kernel panic", "detected stall",
		"blocked for more than",
	};
	char path[128], line[512];
	unsigned int i;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), DIR "/%s.serial", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strstr(line, kinds[i])) {
				printf("# guest %s: %s", name, line);
				n++;
				break;
			}
	fclose(f);
	return n;
}

/* Parse the complete tick lines a VM's guest printed so far. */
static void read_ticks(const char *name, struct ticks *t)
{
	char path[128], line[512];
	struct tick k;
	FILE *f;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), DIR "/%s.serial", name);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') ||
		    sscanf(line, "tick %d timer %lu dev %lu gic %255[^\n]",
			   &k.n, &k.timer, &k.dev, k.gic) != 4)
			continue;
		if (!t->count++)
			t->first = k;
		t->last = k;
	}
	fclose(f);
}

/*
 * Compare two "gic" summaries of the guest, field by field: either the fields
 * for the targets of the upper half of the SPIs ("tgt2=", "route2="; QEMU
 * 7.2 loses the GICv3 ones, see vmm-guest.c) or all the others.
 */
static int same_state(const char *a, const char *b, int upper_targets)
{
	char x[256], y[256], *sx, *sy, *p, *q;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (p = strtok_r(x, " ", &sx), q = strtok_r(y, " ", &sy); p || q;
	     p = strtok_r(NULL, " ", &sx), q = strtok_r(NULL, " ", &sy)) {
		if (!p || !q)
			return 0;
		if (upper_targets != (!strncmp(p, "tgt2=", 5) || !strncmp(p, "route2=", 7)))
			continue;
		if (strcmp(p, q))
			return 0;
	}
	return 1;
}

/* Wait until the guest of 'name' printed 'want' ticks; 0 on timeout or exit. */
static int wait_ticks(const char *name, pid_t pid, int want, int timeout, struct ticks *t)
{
	double end = now() + timeout;

	for (;;) {
		read_ticks(name, t);
		if (t->count >= want)
			return 1;
		if (now() > end || waitpid(pid, NULL, WNOHANG) == pid)
			return 0;
		usleep(100 * 1000);
	}
}

static int qmp_line(int fd, char *buf, size_t len, int timeout)
{
	size_t n = 0;

	while (n < len - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, timeout * 1000) <= 0 || read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return 0;
}

/* Send one QMP command; the reply ("return" or "error") goes to buf. */
static int qmp(int fd, const char *cmd, char *buf, size_t len)
{
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	do {
		if (qmp_line(fd, buf, len, 60))
			return -1;
	} while (!strstr(buf, "\"return\"") && !strstr(buf, "\"error\""));
	return strstr(buf, "\"error\"") ? -1 : 0;
}

static int qmp_connect(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[1024];
	double end = now() + 60;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), DIR "/%s.qmp", name);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(fd);
		if (now() > end)
			return -1;
		usleep(100 * 1000);
	}
	if (qmp_line(fd, buf, sizeof(buf), 60) ||
	    qmp(fd, "{\"execute\":\"qmp_capabilities\"}\n", buf, sizeof(buf)))
		return -1;
	return fd;
}

/*
 * Migrate A into STATE: QEMU connects to MIG_SOCK, this program copies the
 * stream into the file.  Returns the number of bytes, -1 on failure.
 */
static long migrate_to_file(int qmp_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	long total = 0;
	int lfd, cfd, out;
	struct pollfd p;
	ssize_t n;

	strcpy(sa.sun_path, MIG_SOCK);
	unlink(MIG_SOCK);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		return -1;
	/* QEMU 7.2 limits migration to 32 MiB/s by default. */
	if (qmp(qmp_fd, "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
		"{\"max-bandwidth\":10737418240}}\n", buf, sizeof(buf)) ||
	    qmp(qmp_fd, "{\"execute\":\"migrate\",\"arguments\":"
		"{\"uri\":\"unix:" MIG_SOCK "\"}}\n", buf, sizeof(buf))) {
		printf("# migrate: %s", buf);
		return -1;
	}
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, MIG_TIMEOUT * 1000) <= 0)
		return -1;
	cfd = accept(lfd, NULL, NULL);
	out = open(STATE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (cfd < 0 || out < 0)
		return -1;
	while ((n = read(cfd, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n)
			return -1;
		total += n;
	}
	close(cfd);
	close(lfd);
	close(out);
	return n < 0 ? -1 : total;
}

/* Poll query-migrate until the migration ended; status gets 64 bytes at most. */
static int migration_status(int qmp_fd, char *status)
{
	char buf[4096], *s;
	double end = now() + MIG_TIMEOUT;

	for (;;) {
		if (qmp(qmp_fd, "{\"execute\":\"query-migrate\"}\n", buf, sizeof(buf)))
			return -1;
		s = strstr(buf, "\"status\": \"");
		if (s && sscanf(s + 11, "%63[^\"]", status) == 1 &&
		    (!strcmp(status, "completed") || !strcmp(status, "failed") ||
		     !strcmp(status, "cancelled")))
			return strcmp(status, "completed") ? -1 : 0;
		if (now() > end)
			return -1;
		usleep(100 * 1000);
	}
}

static void stop_qemu(pid_t pid, int qmp_fd)
{
	char buf[1024];

	if (qmp_fd >= 0) {
		qmp(qmp_fd, "{\"execute\":\"quit\"}\n", buf, sizeof(buf));
		close(qmp_fd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	struct ticks a, b;
	char status[128] = "";
	double t0, t_boot, t_mig;
	int qa, qb, state_fd;
	pid_t pa, pb;
	long bytes;

	gic_version = argc > 1 ? atoi(argv[1]) : 0;
	if (gic_version != 2 && gic_version != 3) {
		fprintf(stderr, "usage: %s 2|3\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	mkdir(DIR, 0755);
	printf("KTAP version 1\n1..%d\n", NR_STEPS);
	printf("# %s, -accel kvm, GICv%d%s\n", QEMU, gic_version,
	       gic_version == 3 ? " + ITS, virtio-rng-pci (MSI)" : ", virtio-rng-device (SPI)");

	/* 1. A boots and ticks. */
	t0 = now();
	pa = spawn_qemu("A", -1);
	qa = qmp_connect("A");
	if (qa < 0 || !wait_ticks("A", pa, TICKS_BEFORE, BOOT_TIMEOUT, &a) ||
	    a.last.dev <= a.first.dev) {
		result(0);
		show_log("A");
		show_serial("A", 30);
		bail("VM A did not run");
	}
	t_boot = now() - t0;
	printf("# A: %d ticks after %.1f s, timer %lu, dev %lu\n",
	       a.count, t_boot, a.last.timer, a.last.dev);
	result(1);

	/* 2. Migrate A to a file. */
	t0 = now();
	bytes = migrate_to_file(qa);
	if (bytes < 0 || migration_status(qa, status)) {
		printf("# migration status '%s'\n", status);
		result(0);
		show_log("A");
		bail("the migration failed");
	}
	t_mig = now() - t0;
	stop_qemu(pa, qa);
	read_ticks("A", &a);
	printf("# %ld bytes in %.1f s; A's last tick %d, timer %lu, dev %lu\n",
	       bytes, t_mig, a.last.n, a.last.timer, a.last.dev);
	result(1);
	printf("# A: gic %s\n", a.last.gic);

	/* 3. B resumes the guest from the file. */
	state_fd = open(STATE, O_RDONLY);
	if (state_fd < 0)
		bail("cannot open the saved state");
	t0 = now();
	pb = spawn_qemu("B", state_fd);
	close(state_fd);
	qb = qmp_connect("B");
	if (qb < 0 || !wait_ticks("B", pb, TICKS_AFTER, TICK_TIMEOUT, &b) ||
	    b.first.n <= a.last.n || b.first.n > a.last.n + 3) {
		printf("# A's last tick %d; B printed %d ticks, the first %d\n",
		       a.last.n, b.count, b.count ? b.first.n : -1);
		result(0);
		show_log("B");
		show_serial("B", 30);
		bail("VM B did not resume");
	}
	printf("# B: ticks %d..%d, %.1f s after its start\n", b.first.n, b.last.n, now() - t0);
	result(1);

	/* 4-8. What B's guest sees, and what both guest kernels printed. */
	printf("# timer: %lu at A's last tick, %lu..%lu in B\n",
	       a.last.timer, b.first.timer, b.last.timer);
	result(b.last.timer > b.first.timer && b.first.timer >= a.last.timer);
	printf("# device (%s): %lu at A's last tick, %lu..%lu in B\n",
	       gic_version == 3 ? "MSI through the ITS" : "SPI",
	       a.last.dev, b.first.dev, b.last.dev);
	result(b.last.dev > b.first.dev && b.first.dev >= a.last.dev);
	printf("# B: gic %s\n", b.last.gic);
	result(same_state(a.last.gic, b.first.gic, 0) && same_state(a.last.gic, b.last.gic, 0));
	result(same_state(a.last.gic, b.first.gic, 1) && same_state(a.last.gic, b.last.gic, 1));
	stop_qemu(pb, qb);
	result(!splats("A") && !splats("B"));
	return failed;
}
