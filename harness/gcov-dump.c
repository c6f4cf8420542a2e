// SPDX-License-Identifier: GPL-2.0
/*
 * The last "test" of a make coverage run: prints every .gcda file of the
 * kernel's gcov debugfs tree (CONFIG_GCOV_KERNEL) as lines
 *
 *   # GCDA <path below /sys/kernel/debug/gcov> <offset> <base64 of up to 3 KiB>
 *
 * which reach the harness inside the run's KTAP output (harness/coverage.sh
 * decodes them next to the build's .gcno files).  Files whose path does not
 * contain argv[1] (default "/arch/arm64/kvm/") are left out.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROOT	"/sys/kernel/debug/gcov"
#define CHUNK	3072

static const char *filter = "/arch/arm64/kvm/";
static int files;

static void put_base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned int v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
				 (i + 2 < n ? p[i + 2] : 0);

		putchar(tab[v >> 18 & 63]);
		putchar(tab[v >> 12 & 63]);
		putchar(i + 1 < n ? tab[v >> 6 & 63] : '=');
		putchar(i + 2 < n ? tab[v & 63] : '=');
	}
}

static void dump(const char *path)
{
	unsigned char buf[CHUNK];
	long off = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	/* debugfs gcov files are read in one go: keep reading to the end */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		printf("# GCDA %s %ld ", path + strlen(ROOT), off);
		put_base64(buf, n);
		putchar('\n');
		off += n;
	}
	close(fd);
	files++;
}

static void walk(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char path[4096];

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			walk(path);
		else if (len > 5 && !strcmp(e->d_name + len - 5, ".gcda") && strstr(path, filter))
			dump(path);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		filter = argv[1];
	printf("TAP version 13\n1..1\n");
	if (access(ROOT, F_OK)) {
		printf("ok 1 # SKIP %s missing: kernel without CONFIG_GCOV_KERNEL\n", ROOT);
		return 4;
	}
	walk(ROOT);
	fflush(stdout);
	printf("%s 1 gcov-dump: %d files\n", files ? "ok" : "not ok", files);
	return files ? 0 : 1;
}
