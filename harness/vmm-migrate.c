// SPDX-License-Identifier: GPL-2.0
/*
 * Runs inside the emulated arm64 host of 'make check-vmm': one of Debian's
 * own qemu-system-aarch64, unmodified, with -accel kvm, runs guests through
 * five scenarios; each VM has its own console, QMP socket and QEMU log in
 * /tmp/vmm-<label>.
 *
 *   (a) VM A boots the Linux guest (harness/vmm-guest.c on the host's own
 *       kernel); it must tick with timer and device interrupts.
 *   (b) QMP stop: no tick while A is stopped; cont: the ticks and both kinds
 *       of interrupts go on.
 *   (c) QMP "migrate" of A to a unix socket this program listens on; the
 *       stream is written to a file, A is quit, VM B starts with
 *       "-incoming unix:..." and this program sends it the file (QEMU 11.1
 *       refuses "-incoming fd:" on a regular file, 7.2 has no "file:").  B
 *       must resume the guest: ticks go on where A stopped, timer and device
 *       interrupts still arrive, and the guest reads the same GIC state (the
 *       targets of the upper half of the SPIs apart: QEMU loses the GICv3
 *       ones, a QEMU bug, see vmm-guest.c).
 *   (d) VM R boots the Linux guest, QMP system_reset: the guest must boot
 *       again and take timer and device interrupts.
 *   (e) GICv3 only: VM E boots harness/vmm-cbpr.c, a bare-metal guest that
 *       sets ICC_CTLR_EL1.CBPR and resets the VM with PSCI SYSTEM_RESET;
 *       QEMU must reset it (not abort) and the guest must run again, take a
 *       timer interrupt and power off.
 *   (f) Host v4 only (GICv4.0, SMMUv3, QEMU's edu PCI device): the host
 *       binds edu to vfio-pci and VM V gets it with "-device vfio-pci";
 *       its guest drives edu through VFIO's no-IOMMU mode and counts edu's
 *       MSIs, which KVM must forward as a VLPI (the LPI is hw in KVM's
 *       vgic-state, and the host takes none of them).  QMP stop and cont:
 *       QEMU saves the vGIC (SAVE_PENDING_TABLES, whose failure it aborts
 *       on, and the ITS tables, which refuse a forwarded LPI with EACCES)
 *       and must not abort, the kernel must log the forwarded LPI it cannot
 *       save, and the MSIs go on.  QMP migrate and HMP savevm are tried: a
 *       QEMU that refuses them for the assigned device (it has no migration
 *       support) is reported as a skip with QEMU's message.  The guest must
 *       run on, and QMP quit must end QEMU with 0.
 *   No Linux guest console may show a kernel splat.
 *
 * Usage: vmm-migrate 2|3|4 LABEL: the host's GIC version (4: GICv3 guests
 * and scenario (f)).  The QEMU is /qemu/LABEL/qemu-system-aarch64
 * with its own shared libraries in /qemu/LABEL/lib, run through their
 * ld-linux (each QEMU comes with the glibc of its Debian release).  GICv2
 * guests get a virtio-mmio RNG, whose interrupt is an SPI; GICv3 guests an
 * ITS and a virtio-pci RNG, whose interrupts are MSIs.
 * Prints KTAP; exits 0 only when no step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>

#define TICKS_BEFORE	5	/* ticks A must print before the migration */
#define TICKS_AFTER	10	/* ticks B must print after it */
#define TICKS_AGAIN	5	/* ticks after cont, and after a reset */
#define BOOT_TIMEOUT	300
#define TICK_TIMEOUT	120
#define MIG_TIMEOUT	300
#define CBPR_TIMEOUT	120

enum step {
	START, STOP_CONT, MIGRATE, RESUME, TIMER_B, DEV_B, GIC_SAME, GIC_UPPER,
	RESET, CBPR, V_START, V_VLPI, V_STOP_CONT, V_LOG, V_MIGRATE, V_SAVEVM, V_QUIT,
	NO_SPLAT, NR_STEPS
};

static const char *const steps[NR_STEPS] = {
	[START]		= "(a) start: the guest boots, takes timer and device interrupts",
	[STOP_CONT]	= "(b) QMP stop and cont: the guest pauses, then ticks on",
	[MIGRATE]	= "(c) QMP migrate to a file",
	[RESUME]	= "(c) a second QEMU resumes the guest from the file",
	[TIMER_B]	= "(c) timer interrupts after the migration",
	[DEV_B]		= "(c) device interrupts after the migration",
	[GIC_SAME]	= "(c) the same GIC state after the migration",
	[GIC_UPPER]	= "(c) the targets of the upper half of the SPIs survive",
	[RESET]		= "(d) QMP system_reset: the guest boots again, takes interrupts",
	[CBPR]		= "(e) CBPR set, PSCI SYSTEM_RESET: QEMU resets, the guest runs again",
	[V_START]	= "(f) GICv4.0, edu assigned with VFIO: the guest boots, counts edu's MSIs",
	[V_VLPI]	= "(f) edu's MSI is forwarded as a VLPI: the host takes none",
	[V_STOP_CONT]	= "(f) QMP stop (vGIC saved) and cont: QEMU runs on, edu's MSIs go on",
	[V_LOG]		= "(f) the save logs the forwarded LPI whose state it lacks",
	[V_MIGRATE]	= "(f) QMP migrate with the assigned device",
	[V_SAVEVM]	= "(f) HMP savevm with the assigned device",
	[V_QUIT]	= "(f) the guest runs on, QMP quit: QEMU exits with 0",
	[NO_SPLAT]	= "no kernel splat on the guest consoles",
};

/* What a Linux guest printed since its last boot banner: boots and ticks. */
struct tick {
	int n;
	unsigned long timer, dev, edu;
	char gic[256];
};

struct ticks {
	int boots, count;
	struct tick first, last;
};

static int gic_version, host_v4, failed, reported;
static char dir[64], ldso[64], libdir[64], qemu[64];	/* of LABEL */
static char edu_bdf[256];	/* host v4: the PCI address of edu */
static char qmp_error[512];	/* the "desc" of the last QMP error */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The KTAP line of a step; detail (printf format) follows " # " when given. */
static void report(enum step s, int ok, const char *fmt, ...)
{
	char detail[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	printf("%s %d %s%s%s\n", ok ? "ok" : "not ok", ++reported, steps[s], *detail ? " # " : "", detail);
	failed |= !ok;
}

/* The path of a VM's file: DIR/<vm>.<ext> (serial, log, qmp, incoming). */
static void vm_file(char *buf, size_t len, const char *vm, const char *ext)
{
	snprintf(buf, len, "%s/%s.%s", dir, vm, ext);
}

enum guest { LINUX, CBPR_GUEST, LINUX_EDU };

/* Start QEMU for VM 'vm'; an incoming VM waits for a migration stream on DIR/<vm>.incoming. */
static pid_t spawn_qemu(const char *vm, enum guest guest, int incoming)
{
	char serial[128], qmp[128], log[128], machine[64], append[128], stream[128], vfio[300];

	const char *common[] = {
		ldso, "--library-path", libdir, qemu, "-accel", "kvm", "-M", machine,
		"-cpu", "host", "-nodefaults", "-no-user-config", "-display", "none",
		"-serial", serial, "-qmp", qmp,
	};
	const char *linux_guest[] = {
		"-smp", "2", "-m", "256M", "-kernel", "/guest/Image",
		"-initrd", "/guest/initramfs.cpio", "-append", append,
		"-device", gic_version == 3 ? "virtio-rng-pci" : "virtio-rng-device",
	};
	const char *cbpr_guest[] = { "-smp", "1", "-m", "128M", "-kernel", "/guest/cbpr.img" };
	const char *edu_args[] = { "-device", vfio };
	const char *incoming_args[] = { "-incoming", stream };
	const char *argv[64];
	int n = 0, fd;
	pid_t pid;

	snprintf(serial, sizeof(serial), "file:%s/%s.serial", dir, vm);
	snprintf(qmp, sizeof(qmp), "unix:%s/%s.qmp,server=on,wait=off", dir, vm);
	vm_file(log, sizeof(log), vm, "log");
	snprintf(stream, sizeof(stream), "unix:%s/%s.incoming", dir, vm);
	snprintf(machine, sizeof(machine), "virt,gic-version=%d%s", gic_version,
		 gic_version == 3 ? ",its=on" : "");
	snprintf(append, sizeof(append), "console=ttyAMA0 panic=-1 vmm.gic=%d%s", gic_version,
		 guest == LINUX_EDU ? " vfio.enable_unsafe_noiommu_mode=1" : "");
	snprintf(vfio, sizeof(vfio), "vfio-pci,host=%s", edu_bdf);

#define ADD(args) (memcpy(argv + n, args, sizeof(args)), n += sizeof(args) / sizeof(args[0]))
	ADD(common);
	if (guest == CBPR_GUEST)
		ADD(cbpr_guest);
	else
		ADD(linux_guest);
	if (guest == LINUX_EDU)
		ADD(edu_args);
	if (incoming)
		ADD(incoming_args);
	argv[n] = NULL;
#undef ADD

	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(ldso, (char **)argv);
		fprintf(stderr, "exec %s: %s\n", ldso, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Print a VM's file (QEMU's own output, or the guest console), the last 'lines' lines. */
static void show(const char *vm, const char *ext, const char *prefix, int lines)
{
	char path[128], buf[64][320];
	int n = 0, i;
	FILE *f;

	vm_file(path, sizeof(path), vm, ext);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(buf[n % 64], sizeof(buf[0]), f))
		n++;
	fclose(f);
	for (i = n > lines ? n - lines : 0; i < n; i++)
		printf("# %s %s: %s%s", prefix, vm, buf[i % 64], strchr(buf[i % 64], '\n') ? "" : "\n");
}

/* The diagnosis of a VM that failed: QEMU's output and the end of the guest console. */
static void show_vm(const char *vm)
{
	show(vm, "log", "qemu", 64);
	show(vm, "serial", "guest", 30);
}

/* Whether QEMU 'pid' ended (si: how); it stays a zombie until stop_qemu(). */
static int ended(pid_t pid, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	return !waitid(P_PID, pid, si, WEXITED | WNOHANG | WNOWAIT) && si->si_pid == pid;
}

/*
 * Why VM 'vm' failed, for the detail of its step: how its QEMU ended, if it
 * did, and QEMU's last error message ("qemu-system-aarch64: ...", not a
 * warning).
 */
static const char *why(const char *vm, pid_t pid)
{
	static char out[400];
	char path[128], line[320], msg[320] = "";
	double end = now() + 1;
	siginfo_t si;
	int len;
	FILE *f;

	/* A QEMU that closed its QMP socket may take a moment to exit. */
	while (!ended(pid, &si) && now() < end)
		usleep(10 * 1000);
	vm_file(path, sizeof(path), vm, "log");
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "qemu-system-aarch64: ", 21) && !strstr(line, "warning"))
			snprintf(msg, sizeof(msg), "%s", line + 21);
	if (f)
		fclose(f);
	msg[strcspn(msg, "\n")] = 0;
	len = snprintf(out, sizeof(out), "VM %s", vm);
	if (si.si_pid != pid)
		len += snprintf(out + len, sizeof(out) - len, ", QEMU still running");
	else
		len += snprintf(out + len, sizeof(out) - len, si.si_code == CLD_EXITED ?
				", QEMU exited with %d" : ", QEMU killed by signal %d", si.si_status);
	if (*msg)
		snprintf(out + len, sizeof(out) - len, ": %s", msg);
	return out;
}

/* Print and count the kernel splats (WARN, BUG, Oops, panic, stalls) on a guest console. */
static int splats(const char *vm)
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

	vm_file(path, sizeof(path), vm, "serial");
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strstr(line, kinds[i])) {
				printf("# guest %s: %s", vm, line);
				n++;
				break;
			}
	fclose(f);
	return n;
}

/*
 * Parse the complete lines a Linux guest printed so far: the boot banners of
 * vmm-guest, and the tick lines since the last one.
 */
static void read_ticks(const char *vm, struct ticks *t)
{
	char path[128], line[512];
	struct tick k;
	FILE *f;

	memset(t, 0, sizeof(*t));
	vm_file(path, sizeof(path), vm, "serial");
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n'))
			continue;
		if (!strncmp(line, "vmm-guest: GICv", 15)) {
			t->boots++;
			t->count = 0;
		} else if (sscanf(line, "tick %d timer %lu dev %lu edu %lu gic %255[^\n]",
				  &k.n, &k.timer, &k.dev, &k.edu, k.gic) == 5) {
			if (!t->count++)
				t->first = k;
			t->last = k;
		}
	}
	fclose(f);
}

/*
 * Wait until the guest of 'vm' printed its 'boots'th boot banner and 'want'
 * ticks since; 0 on timeout or when QEMU exited.
 */
static int wait_ticks(const char *vm, pid_t pid, int boots, int want, int timeout, struct ticks *t)
{
	double end = now() + timeout;
	siginfo_t si;

	for (;;) {
		read_ticks(vm, t);
		if (t->boots >= boots && t->count >= want)
			return 1;
		if (now() > end || ended(pid, &si))
			return 0;
		usleep(100 * 1000);
	}
}

/*
 * Compare two "gic" summaries of the guest, field by field: either the fields
 * for the targets of the upper half of the SPIs ("tgt2=", "route2="; QEMU
 * loses the GICv3 ones, see vmm-guest.c) or all the others.  The fields that
 * differ go to diff ("<a's> -> <b's>", appended); returns 1 when none does.
 */
static int same_state(const char *a, const char *b, int upper_targets, char *diff, size_t len)
{
	char x[256], y[256], *sx, *sy, *p, *q;
	int same = 1;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (p = strtok_r(x, " ", &sx), q = strtok_r(y, " ", &sy); p || q;
	     p = strtok_r(NULL, " ", &sx), q = strtok_r(NULL, " ", &sy)) {
		if (p && q && upper_targets != (!strncmp(p, "tgt2=", 5) || !strncmp(p, "route2=", 7)))
			continue;
		if (p && q && !strcmp(p, q))
			continue;
		if (!strstr(diff, p ? p : "(none)"))
			snprintf(diff + strlen(diff), len - strlen(diff), "%s%s -> %s",
				 *diff ? ", " : "", p ? p : "(none)", q ? q : "(none)");
		same = 0;
	}
	return same;
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

/*
 * Copy the JSON string that follows 'key' (e.g. "\"desc\": ") in the QMP
 * reply 'buf' to 'out', escapes as they are; "" if there is none.
 */
static void qmp_string(const char *buf, const char *key, char *out, size_t len)
{
	const char *p = strstr(buf, key);
	size_t n = 0;

	for (p = p ? p + strlen(key) + 1 : ""; *p && *p != '"' && n < len - 1; p++) {
		if (*p == '\\' && p[1])
			out[n++] = *p++;
		if (n < len - 1)
			out[n++] = *p;
	}
	out[n] = 0;
}

/* Send one QMP command; the reply ("return" or "error") goes to buf, an error's desc to qmp_error. */
static int qmp(int fd, const char *cmd, char *buf, size_t len)
{
	*qmp_error = 0;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	do {
		if (qmp_line(fd, buf, len, 60))
			return -1;
	} while (!strstr(buf, "\"return\"") && !strstr(buf, "\"error\""));
	if (!strstr(buf, "\"error\""))
		return 0;
	qmp_string(buf, "\"desc\": ", qmp_error, sizeof(qmp_error));
	return -1;
}

/* Connect to VM @vm's unix socket @what, which QEMU may not have opened yet */
static int vm_connect(const char *vm, const char *what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double end = now() + 60;
	int fd;

	vm_file(sa.sun_path, sizeof(sa.sun_path), vm, what);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (now() > end)
			return -1;
		usleep(100 * 1000);
	}
}

/*
 * QMP stop, then the ticks of @vm at once (@stopped) and a second later
 * (@later): a stopped guest prints none. 1 if the stop was acknowledged.
 */
static int stop_and_watch(int qmp_fd, const char *vm, struct ticks *stopped,
			  struct ticks *later)
{
	char buf[4096];
	int ok = !qmp(qmp_fd, "{\"execute\":\"stop\"}\n", buf, sizeof(buf));

	read_ticks(vm, stopped);
	sleep(1);
	read_ticks(vm, later);
	printf("# %s: %d ticks when stopped, %d a second later\n", vm, stopped->count,
	       later->count);
	return ok;
}

static int qmp_connect(const char *vm)
{
	char buf[1024];
	int fd;

	fd = vm_connect(vm, "qmp");
	if (fd < 0)
		return -1;
	if (qmp_line(fd, buf, sizeof(buf), 60) ||
	    qmp(fd, "{\"execute\":\"qmp_capabilities\"}\n", buf, sizeof(buf))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Migrate the VM behind qmp_fd into the file 'state': QEMU connects to a unix
 * socket, this program copies the stream into the file.  Returns the number
 * of bytes, -1 on failure.
 */
static long migrate_to_file(int qmp_fd, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536], cmd[256];
	long total = 0;
	int lfd, cfd, out;
	struct pollfd p;
	ssize_t n;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/migrate.sock", dir);
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		return -1;
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:%s\"}}\n",
		 sa.sun_path);
	/* QEMU 7.2 limits migration to 32 MiB/s by default. */
	if (qmp(qmp_fd, "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
		"{\"max-bandwidth\":10737418240}}\n", buf, sizeof(buf)) ||
	    qmp(qmp_fd, cmd, buf, sizeof(buf))) {
		printf("# migrate: %s", buf);
		close(lfd);
		return -1;
	}
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, MIG_TIMEOUT * 1000) <= 0)
		return -1;
	cfd = accept(lfd, NULL, NULL);
	out = open(state, O_WRONLY | O_CREAT | O_TRUNC, 0600);
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

/*
 * Send the file 'state' to the incoming VM 'vm' (connecting to its socket
 * until QEMU listens).  Returns the number of bytes, -1 on failure.
 */
static long migrate_from_file(const char *vm, const char *state)
{
	char buf[65536];
	ssize_t n = -1;
	long total = 0;
	int in, fd;

	fd = vm_connect(vm, "incoming");
	if (fd < 0)
		return -1;
	in = open(state, O_RDONLY);
	while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(fd, buf, n) != n)
			break;
		total += n;
	}
	if (in >= 0)
		close(in);
	close(fd);
	return n == 0 ? total : -1;
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

/* Mark the steps [from, to] as not run because of an earlier failure. */
static void not_run(enum step from, enum step to, const char *because)
{
	enum step s;

	for (s = from; s <= to; s++)
		report(s, 0, "not run: %s", because);
}

/*
 * Step @s failed in VM @vm: show its QEMU log and console, report @detail,
 * stop that QEMU and mark the remaining steps of its scenario, (a)-(c) or
 * (f), not run.
 */
static void fail_step(enum step s, const char *vm, pid_t pid, int qmp_fd, const char *detail,
		      const char *because)
{
	show_vm(vm);
	report(s, 0, "%s", detail);
	stop_qemu(pid, qmp_fd);
	not_run(s + 1, s < V_START ? GIC_UPPER : V_QUIT, because);
}

/* (a), (b) and (c): VM A starts, is stopped and continued, and migrates into VM B. */
static void run_stop_migrate(void)
{
	struct ticks a, b, t;
	char state[128], buf[1024], status[128] = "", diff[400];
	int qa, qb, ok;
	double t0;
	pid_t pa, pb;
	long bytes;

	/* (a) A boots and ticks. */
	t0 = now();
	pa = spawn_qemu("A", LINUX, 0);
	qa = qmp_connect("A");
	if (qa < 0 || !wait_ticks("A", pa, 1, TICKS_BEFORE, BOOT_TIMEOUT, &a) ||
	    a.last.dev <= a.first.dev || a.last.timer <= a.first.timer) {
		printf("# A: %d ticks, timer %lu..%lu, dev %lu..%lu\n", a.count,
		       a.first.timer, a.last.timer, a.first.dev, a.last.dev);
		fail_step(START, "A", pa, qa, why("A", pa), "(a) failed");
		return;
	}
	printf("# A: %d ticks after %.1f s, timer %lu, dev %lu\n",
	       a.count, now() - t0, a.last.timer, a.last.dev);
	report(START, 1, NULL);

	/* (b) No tick while A is stopped; after cont the guest ticks on. */
	ok = stop_and_watch(qa, "A", &a, &t);
	ok = ok && t.count == a.count && !qmp(qa, "{\"execute\":\"cont\"}\n", buf, sizeof(buf)) &&
	     wait_ticks("A", pa, 1, a.count + TICKS_AGAIN, TICK_TIMEOUT, &t) &&
	     t.last.timer > a.last.timer && t.last.dev > a.last.dev;
	if (!ok) {
		fail_step(STOP_CONT, "A", pa, qa, why("A", pa), "(b) failed");
		return;
	}
	printf("# A: after cont ticks %d..%d, timer %lu, dev %lu\n",
	       a.last.n + 1, t.last.n, t.last.timer, t.last.dev);
	report(STOP_CONT, 1, NULL);

	/* (c) Migrate A to a file. */
	snprintf(state, sizeof(state), "%s/state", dir);
	t0 = now();
	bytes = migrate_to_file(qa, state);
	if (bytes < 0 || migration_status(qa, status)) {
		snprintf(buf, sizeof(buf), "migration status '%s', %s", status, why("A", pa));
		fail_step(MIGRATE, "A", pa, qa, buf, "the migration failed");
		return;
	}
	stop_qemu(pa, qa);
	read_ticks("A", &a);
	printf("# %ld bytes in %.1f s; A's last tick %d, timer %lu, dev %lu\n",
	       bytes, now() - t0, a.last.n, a.last.timer, a.last.dev);
	report(MIGRATE, 1, NULL);
	printf("# A: gic %s\n", a.last.gic);

	/* B resumes the guest from the file. */
	t0 = now();
	pb = spawn_qemu("B", LINUX, 1);
	qb = qmp_connect("B");
	if (qb < 0 || migrate_from_file("B", state) != bytes ||
	    !wait_ticks("B", pb, 0, TICKS_AFTER, TICK_TIMEOUT, &b) ||
	    b.first.n <= a.last.n || b.first.n > a.last.n + 3) {
		printf("# A's last tick %d; B printed %d ticks, the first %d\n",
		       a.last.n, b.count, b.count ? b.first.n : -1);
		fail_step(RESUME, "B", pb, qb, why("B", pb), "B did not resume");
		return;
	}
	printf("# B: ticks %d..%d, %.1f s after its start\n", b.first.n, b.last.n, now() - t0);
	report(RESUME, 1, NULL);

	/* What B's guest sees. */
	printf("# timer: %lu at A's last tick, %lu..%lu in B\n",
	       a.last.timer, b.first.timer, b.last.timer);
	report(TIMER_B, b.last.timer > b.first.timer && b.first.timer >= a.last.timer, NULL);
	printf("# device (%s): %lu at A's last tick, %lu..%lu in B\n",
	       gic_version == 3 ? "MSI through the ITS" : "SPI",
	       a.last.dev, b.first.dev, b.last.dev);
	report(DEV_B, b.last.dev > b.first.dev && b.first.dev >= a.last.dev, NULL);
	printf("# B: gic %s\n", b.last.gic);
	*diff = 0;
	ok = same_state(a.last.gic, b.first.gic, 0, diff, sizeof(diff)) &
	     same_state(a.last.gic, b.last.gic, 0, diff, sizeof(diff));
	report(GIC_SAME, ok, ok ? NULL : "%s", diff);
	*diff = 0;
	ok = same_state(a.last.gic, b.first.gic, 1, diff, sizeof(diff)) &
	     same_state(a.last.gic, b.last.gic, 1, diff, sizeof(diff));
	report(GIC_UPPER, ok, ok ? NULL : "%s", diff);
	stop_qemu(pb, qb);
}

/* (d) VM R boots, QMP system_reset, the guest boots again and ticks. */
static void run_reset(void)
{
	struct ticks r, again;
	char buf[1024];
	int qr, ok;
	pid_t pr;

	pr = spawn_qemu("R", LINUX, 0);
	qr = qmp_connect("R");
	ok = qr >= 0 && wait_ticks("R", pr, 1, 1, BOOT_TIMEOUT, &r) &&
	     !qmp(qr, "{\"execute\":\"system_reset\"}\n", buf, sizeof(buf)) &&
	     wait_ticks("R", pr, 2, TICKS_AGAIN, BOOT_TIMEOUT, &again) &&
	     again.last.timer > again.first.timer && again.last.dev > again.first.dev;
	if (ok) {
		printf("# R: after the reset, boot %d ticks %d..%d, timer %lu, dev %lu\n",
		       again.boots, again.first.n, again.last.n, again.last.timer, again.last.dev);
		report(RESET, 1, NULL);
	} else {
		read_ticks("R", &again);
		printf("# R: %d boots, %d ticks in the last\n", again.boots, again.count);
		show_vm("R");
		report(RESET, 0, "%s", why("R", pr));
	}
	stop_qemu(pr, qr);
}

/* (e) VM E runs vmm-cbpr.c: boot, CBPR, PSCI SYSTEM_RESET, boot again, timer interrupt, SYSTEM_OFF. */
static void run_cbpr(void)
{
	double end = now() + CBPR_TIMEOUT;
	char path[128], line[256];
	int again = 0, irq = 0;
	siginfo_t si;
	FILE *f;
	pid_t pe;

	if (gic_version != 3) {
		report(CBPR, 1, "SKIP GICv2: ICC_CTLR_EL1 and QEMU's KVM GICv3 reset are GICv3's");
		return;
	}
	pe = spawn_qemu("E", CBPR_GUEST, 0);
	while (!ended(pe, &si) && now() < end)
		usleep(100 * 1000);
	vm_file(path, sizeof(path), "E", "serial");
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		printf("# guest E: %s", line);
		again |= !strncmp(line, "vmm-cbpr: boot 2,", 17);
		irq |= !strncmp(line, "vmm-cbpr: timer interrupt 27 taken", 34);
	}
	if (f)
		fclose(f);
	if (again && irq && ended(pe, &si) && si.si_code == CLD_EXITED && !si.si_status) {
		report(CBPR, 1, NULL);
	} else {
		show("E", "log", "qemu", 64);
		report(CBPR, 0, "%s", why("E", pe));
	}
	stop_qemu(pe, -1);
}

/* The sum over the CPUs of the lines of /proc/interrupts that name @name, -1 if none does. */
static long irq_count(const char *name)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024], *p, *end;
	long total = -1;

	while (f && fgets(line, sizeof(line), f)) {
		p = strchr(line, ':');
		if (!p || !strstr(line, name))
			continue;
		for (total = total < 0 ? 0 : total, p++;; p = end) {
			unsigned long n = strtoul(p, &end, 10);

			if (end == p)
				break;
			total += n;
		}
	}
	if (f)
		fclose(f);
	return total;
}

/* The LPIs KVM forwards as VLPIs (flag H) in the vgic-state of QEMU @pid's VM. */
static int forwarded_lpis(pid_t pid)
{
	char path[300], line[256], type[8], flags[16], prefix[16];
	DIR *d = opendir("/sys/kernel/debug/kvm");
	int n = 0, intid, target;
	struct dirent *e;
	FILE *f;

	snprintf(prefix, sizeof(prefix), "%d-", pid);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s/vgic-state", e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			/* flags: P L A E H C G */
			n += sscanf(line, " %7s %d %d %15s", type, &intid, &target, flags) == 4 &&
			     !strcmp(type, "LPI") && strlen(flags) == 7 && flags[4] == '1';
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* Write @val to the sysfs file @path. */
static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* The value of sysfs attribute @attr of PCI device @bdf (a hex number), -1 if none. */
static long pci_attr(const char *bdf, const char *attr)
{
	char path[320], val[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(val, sizeof(val), f))
		*val = 0;
	fclose(f);
	return *val ? strtol(val, NULL, 16) : -1;
}

/* Bind the host's edu PCI device (1234:11e8) to vfio-pci; its address goes to edu_bdf. */
static const char *bind_edu(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	char path[320], link[256];
	struct dirent *e;
	ssize_t n;

	while (d && (e = readdir(d)))
		if (pci_attr(e->d_name, "vendor") == 0x1234 && pci_attr(e->d_name, "device") == 0x11e8)
			snprintf(edu_bdf, sizeof(edu_bdf), "%s", e->d_name);
	if (d)
		closedir(d);
	if (!*edu_bdf)
		return "the host has no edu PCI device (1234:11e8)";
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", edu_bdf);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (strstr(link, "/vfio-pci"))
		return NULL;
	if (n > 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", edu_bdf);
		put(path, edu_bdf);
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", edu_bdf);
	if (put(path, "vfio-pci") || put("/sys/bus/pci/drivers_probe", edu_bdf))
		return "cannot bind edu to vfio-pci";
	return NULL;
}

/*
 * Read the kernel log records since @fd (/dev/kmsg) was opened and print
 * those that contain @text; returns how many do.
 */
static int kmsg_find(int fd, const char *text)
{
	char rec[2048], *msg;
	ssize_t n;
	int found = 0;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		rec[n > 0 ? n : 0] = 0;
		msg = strchr(rec, ';');
		if (msg && strstr(msg, text)) {
			printf("# host kernel: %s", msg + 1);
			found++;
		}
	}
	return found;
}

/* (f) VM V with the host's edu assigned: VLPI, stop and cont, migrate and savevm, quit. */
static void run_assigned(void)
{
	char buf[1024], msg[512], msi_name[300], status[64] = "", state[128];
	const char *err = bind_edu();
	struct ticks v, t;
	long msis, msis_after, bytes;
	int qv, lpis, kmsg, ok;
	siginfo_t si;
	double end;
	pid_t pv;

	if (err) {
		report(V_START, 0, "%s", err);
		not_run(V_VLPI, V_QUIT, "(f) failed");
		return;
	}
	pv = spawn_qemu("V", LINUX_EDU, 0);
	qv = qmp_connect("V");
	if (qv < 0 || !wait_ticks("V", pv, 1, TICKS_BEFORE, BOOT_TIMEOUT, &v) ||
	    v.last.edu <= v.first.edu) {
		printf("# V: %d ticks, edu %lu..%lu\n", v.count, v.first.edu, v.last.edu);
		fail_step(V_START, "V", pv, qv, why("V", pv), "(f) failed");
		return;
	}
	printf("# V: edu %s assigned; %d ticks, edu MSIs %lu..%lu\n", edu_bdf, v.count,
	       v.first.edu, v.last.edu);
	report(V_START, 1, NULL);

	/* The LPI is hw in KVM's vgic-state; the host's count of edu's MSI stands still. */
	snprintf(msi_name, sizeof(msi_name), "vfio-msi[0](%s)", edu_bdf);
	lpis = forwarded_lpis(pv);
	msis = irq_count(msi_name);
	ok = wait_ticks("V", pv, 1, v.count + TICKS_AGAIN, TICK_TIMEOUT, &t) &&
	     t.last.edu > v.last.edu;
	msis_after = irq_count(msi_name);
	printf("# V: %d forwarded LPIs in KVM's vgic-state; while the guest counted %lu MSIs, "
	       "the host's %s went %ld -> %ld\n", lpis, t.last.edu - v.last.edu, msi_name,
	       msis, msis_after);
	ok = ok && lpis > 0 && msis >= 0 && msis_after == msis;
	report(V_VLPI, ok, ok ? NULL : "not forwarded, or the guest took no MSI");

	/* QMP stop saves the vGIC: QEMU must survive it, and the kernel say what it lacks. */
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	lseek(kmsg, 0, SEEK_END);
	ok = stop_and_watch(qv, "V", &v, &t);
	ok = ok && t.count == v.count && !ended(pv, &si) &&
	     !qmp(qv, "{\"execute\":\"cont\"}\n", buf, sizeof(buf)) &&
	     wait_ticks("V", pv, 1, v.count + TICKS_AGAIN, TICK_TIMEOUT, &t) &&
	     t.last.edu > v.last.edu;
	if (!ok) {
		close(kmsg);
		fail_step(V_STOP_CONT, "V", pv, qv, why("V", pv), "(f) stop or cont failed");
		return;
	}
	printf("# V: after cont edu MSIs %lu..%lu\n", v.last.edu, t.last.edu);
	report(V_STOP_CONT, 1, NULL);
	ok = kmsg_find(kmsg, "forwarded as GICv4.0 VLPIs");
	close(kmsg);
	report(V_LOG, ok, ok ? NULL : "no kernel message about forwarded LPIs at the stop");

	/* Migration and snapshot: QEMU is expected to refuse them for vfio-pci. */
	snprintf(state, sizeof(state), "%s/state-V", dir);
	bytes = migrate_to_file(qv, state);
	if (bytes < 0 && *qmp_error) {
		report(V_MIGRATE, 1, "SKIP not run: QEMU refuses: %s", qmp_error);
	} else if (bytes >= 0 && !migration_status(qv, status)) {
		report(V_MIGRATE, 1, "QEMU migrated the VM (%ld bytes)", bytes);
		qmp(qv, "{\"execute\":\"cont\"}\n", buf, sizeof(buf));
	} else {
		report(V_MIGRATE, 0, "migration status '%s', %s", status, why("V", pv));
	}
	ok = !qmp(qv, "{\"execute\":\"human-monitor-command\",\"arguments\":"
		  "{\"command-line\":\"savevm vmm-v4\"}}\n", buf, sizeof(buf));
	printf("# savevm: %s", buf);
	qmp_string(buf, "\"return\": ", msg, sizeof(msg));
	if (strlen(msg) >= 4 && !strcmp(msg + strlen(msg) - 4, "\\r\\n"))
		msg[strlen(msg) - 4] = 0;
	if (!ok)
		report(V_SAVEVM, 0, "%s", qmp_error);
	else if (*msg)
		report(V_SAVEVM, 1, "SKIP not run: QEMU refuses: %s", msg);
	else
		report(V_SAVEVM, 1, NULL);

	/* The guest runs on; quit ends QEMU with 0. */
	read_ticks("V", &v);
	ok = wait_ticks("V", pv, 1, v.count + TICKS_AGAIN, TICK_TIMEOUT, &t) &&
	     t.last.edu > v.last.edu && !qmp(qv, "{\"execute\":\"quit\"}\n", buf, sizeof(buf));
	for (end = now() + 60; ok && !ended(pv, &si) && now() < end;)
		usleep(100 * 1000);
	printf("# V: edu MSIs %lu..%lu after migrate and savevm\n", v.last.edu, t.last.edu);
	ok = ok && si.si_pid == pv && si.si_code == CLD_EXITED && !si.si_status;
	report(V_QUIT, ok, ok ? NULL : "%s", why("V", pv));
	show("V", "log", "qemu", 64);
	stop_qemu(pv, -1);
	close(qv);
}

int main(int argc, char **argv)
{
	const char *label = argc > 2 ? argv[2] : "";
	int host_gic = argc > 1 ? atoi(argv[1]) : 0;

	if (host_gic < 2 || host_gic > 4 || !*label || strlen(label) > 16 || strchr(label, '/')) {
		fprintf(stderr, "usage: %s 2|3|4 LABEL  (the host's GIC; QEMU in /qemu/LABEL)\n",
			argv[0]);
		return 2;
	}
	host_v4 = host_gic == 4;
	gic_version = host_v4 ? 3 : host_gic;
	snprintf(dir, sizeof(dir), "/tmp/vmm-%s", label);
	snprintf(libdir, sizeof(libdir), "/qemu/%s/lib", label);
	snprintf(ldso, sizeof(ldso), "/qemu/%s/lib/ld-linux-aarch64.so.1", label);
	snprintf(qemu, sizeof(qemu), "/qemu/%s/qemu-system-aarch64", label);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	mkdir(dir, 0755);
	/* Scenario (f) runs on a GICv4 host only. */
	printf("KTAP version 1\n1..%d\n", NR_STEPS - (host_v4 ? 0 : V_QUIT - V_START + 1));
	printf("# QEMU %s, -accel kvm, GICv%d%s%s\n", label, gic_version,
	       gic_version == 3 ? " + ITS, virtio-rng-pci (MSI)" : ", virtio-rng-device (SPI)",
	       host_v4 ? "; GICv4.0 host" : "");

	run_stop_migrate();
	run_reset();
	run_cbpr();
	if (host_v4)
		run_assigned();
	report(NO_SPLAT, !splats("A") && !splats("B") && !splats("R") && !splats("V"), NULL);
	return failed;
}
