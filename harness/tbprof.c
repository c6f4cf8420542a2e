// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for make profile: the instructions executed per
 * translation block, in segments. Every execution of the block at guest
 * address "mark" (harness/bench.c's profile_mark()) ends a segment; its
 * counts go to "<out>.<n>" as "address executions instructions" lines,
 * n counting from 0. Under -icount there is one vCPU thread, so the counts
 * are exact.
 *
 * Debian ships QEMU without qemu-plugin.h: the few declarations used are
 * written out here, from the plugin API of QEMU 7.2 (version 1).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
	void (*cb)(unsigned int vcpu_index, void *userdata),
	enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	enum qemu_plugin_op op, void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

EXPORT int qemu_plugin_version = 1;

struct block {
	uint64_t vaddr;
	uint64_t count;
	uint32_t insns;
};

static struct block **blocks;
static size_t nr_blocks, max_blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mark;
static const char *out;
static int segment;

static void end_segment(unsigned int vcpu_index, void *userdata)
{
	char path[4096];
	size_t i;
	FILE *f;

	pthread_mutex_lock(&lock);
	snprintf(path, sizeof(path), "%s.%d", out, segment++);
	f = fopen(path, "w");
	for (i = 0; f && i < nr_blocks; i++) {
		if (blocks[i]->count)
			fprintf(f, "%" PRIx64 " %" PRIu64 " %u\n", blocks[i]->vaddr,
				blocks[i]->count, blocks[i]->insns);
		blocks[i]->count = 0;
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&lock);
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = calloc(1, sizeof(*b));

	if (!b)
		abort();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&lock);
	if (nr_blocks == max_blocks) {
		max_blocks = max_blocks ? 2 * max_blocks : 65536;
		blocks = realloc(blocks, max_blocks * sizeof(*blocks));
		if (!blocks)
			abort();
	}
	blocks[nr_blocks++] = b;
	pthread_mutex_unlock(&lock);

	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
	if (b->vaddr == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, end_segment, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			       int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 0);
		else if (!strncmp(argv[i], "out=", 4))
			out = strdup(argv[i] + 4);
	}
	if (!mark || !out) {
		fprintf(stderr, "tbprof: mark=ADDRESS,out=PREFIX needed\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	return 0;
}
