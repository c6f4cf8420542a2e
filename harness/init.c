// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the emulated arm64 test host.
 *
 * Mounts the pseudo filesystems, runs every test listed in /tests/list with
 * its own timeout, and writes the results as KTAP to /dev/hvc0 (a virtio
 * console the harness captures apart from the kernel console, so printk never
 * interleaves with test output).  Each test's own output is nested as a KTAP
 * subtest, indented by four spaces.  Then it scans for kmemleak reports where
 * the kernel has kmemleak, and powers the machine off.
 *
 * /tests/list: one test per line, "<name> <timeout-seconds> [args...]"; the
 * binary is /tests/<name>.  Blank lines and lines starting with '#' are skipped.
 */
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
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_TESTS	128
#define MAX_ARGS	32
#define KSFT_SKIP	4

struct test {
	char *argv[MAX_ARGS + 1];
	int timeout;
};

static FILE *out;

static void kmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int fd, len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	/* One write() is one kernel log record. */
	write(fd, buf, len < (int)sizeof(buf) ? len : (int)sizeof(buf) - 1);
	close(fd);
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		kmsg("kst-init: mount %s on %s: %s\n", type, dir, strerror(errno));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_list(struct test *tests)
{
	static char buf[1 << 16];
	int fd = open("/tests/list", O_RDONLY), n = 0;
	ssize_t len;
	char *line, *save;

	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;

	for (line = strtok_r(buf, "\n", &save); line && n < MAX_TESTS;
	     line = strtok_r(NULL, "\n", &save)) {
		struct test *t = &tests[n];
		char *tok, *s2;
		int argc = 0;

		if (line[0] == '#' || line[0] == 0)
			continue;
		tok = strtok_r(line, " \t", &s2);
		t->argv[argc++] = tok;
		tok = strtok_r(NULL, " \t", &s2);
		t->timeout = tok ? atoi(tok) : 0;
		if (t->timeout <= 0)
			t->timeout = 300;
		while (argc < MAX_ARGS && (tok = strtok_r(NULL, " \t", &s2)))
			t->argv[argc++] = tok;
		t->argv[argc] = NULL;
		n++;
	}
	return n;
}

/* Copy the child's output to the results, indented as a nested KTAP test. */
static void copy_output(int fd, double deadline, pid_t pid, int *timed_out)
{
	char buf[4096];
	int at_line_start = 1;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ms = (int)((deadline - now()) * 1000);
		ssize_t len, i;

		if (ms <= 0) {
			*timed_out = 1;
			kill(-pid, SIGKILL);
			return;
		}
		if (poll(&p, 1, ms) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			return;
		for (i = 0; i < len; i++) {
			if (at_line_start)
				fputs("    ", out);
			fputc(buf[i], out);
			at_line_start = buf[i] == '\n';
		}
		fflush(out);
	}
}

static void run_test(int nr, struct test *t)
{
	const char *name = t->argv[0];
	char path[256];
	int pipefd[2], status = 0, timed_out = 0;
	double start = now();
	pid_t pid;

	snprintf(path, sizeof(path), "/tests/%s", name);
	fprintf(out, "# selftest: %s (timeout %ds)\n", name, t->timeout);
	fflush(out);
	kmsg("kst-init: start %s\n", name);

	if (pipe(pipefd)) {
		fprintf(out, "not ok %d %s # pipe: %s\n", nr, name, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		chdir("/tmp");
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		t->argv[0] = path;	/* the selftests library reads its own ELF */
		execv(path, t->argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	copy_output(pipefd[0], start + t->timeout, pid, &timed_out);
	close(pipefd[0]);
	/* Reap the test and anything left in its process group. */
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	kmsg("kst-init: end %s\n", name);
	if (timed_out)
		fprintf(out, "not ok %d %s # TIMEOUT after %ds\n", nr, name, t->timeout);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		fprintf(out, "ok %d %s # time=%.1fs\n", nr, name, now() - start);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
		fprintf(out, "ok %d %s # SKIP\n", nr, name);
	else if (WIFEXITED(status))
		fprintf(out, "not ok %d %s # exit=%d\n", nr, name, WEXITSTATUS(status));
	else
		fprintf(out, "not ok %d %s # signal=%d\n", nr, name, WTERMSIG(status));
	fflush(out);
}

/* Print kmemleak's findings to the console, where the harness looks for splats. */
static void kmemleak_scan(void)
{
	char buf[4096];
	ssize_t len;
	int fd = open("/sys/kernel/debug/kmemleak", O_RDWR);

	if (fd < 0)
		return;
	/* kmemleak ignores objects younger than 5 s: let the last test's age. */
	sleep(6);
	/* Two scans: an object is reported once it stayed unreferenced across scans. */
	write(fd, "scan", 4);
	write(fd, "scan", 4);
	close(fd);
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY);
	if (fd < 0)
		return;
	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		int con = open("/dev/console", O_WRONLY);

		if (con >= 0) {
			write(con, buf, len);
			close(con);
		}
	}
	close(fd);
	kmsg("kst-init: kmemleak scan done\n");
}

int main(void)
{
	static struct test tests[MAX_TESTS];
	int i, n;

	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	mount_fs("tmpfs", "/tmp", "tmpfs");
	mount_fs("debugfs", "/sys/kernel/debug", "debugfs");
	mount_fs("hugetlbfs", "/dev/hugepages", "hugetlbfs");

	out = fopen("/dev/hvc0", "w");
	if (!out) {
		kmsg("kst-init: /dev/hvc0: %s, results go to the console\n", strerror(errno));
		out = fopen("/dev/console", "w");
	}
	if (!out)
		return 1;

	n = read_list(tests);
	fprintf(out, "KTAP version 1\n1..%d\n", n);
	fflush(out);
	for (i = 0; i < n; i++)
		run_test(i + 1, &tests[i]);

	kmemleak_scan();
	fprintf(out, "# kst-init: done\n");
	fclose(out);
	kmsg("kst-init: done, powering off\n");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
