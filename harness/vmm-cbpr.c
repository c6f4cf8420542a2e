// SPDX-License-Identifier: GPL-2.0
/*
 * Bare-metal guest of 'make check-vmm', scenario (e): a guest that sets
 * ICC_CTLR_EL1.CBPR, then resets the VM with PSCI SYSTEM_RESET.  QEMU's KVM
 * GICv3 reset reads ICC_CTLR_EL1 back from KVM as its reset value (CBPR
 * still set) and writes it, then ICC_BPR1_EL1 = 0, into KVM
 * (hw/intc/arm_gicv3_kvm.c, with &error_abort): a kernel that refuses
 * ICC_BPR1_EL1 while CBPR is set makes QEMU abort there.  A Linux guest never
 * sets CBPR, hence this guest.
 *
 * The boot count lives in RAM outside the image: QEMU's reset copies the
 * image in again but leaves the rest of RAM alone.  On the second boot the
 * guest takes one virtual timer interrupt (PPI 27) through the GIC as an IRQ
 * exception and powers the VM off with PSCI SYSTEM_OFF.  harness/vmm-migrate.c
 * reads what it prints on the PL011:
 *
 *   vmm-cbpr: boot 1, ICC_CTLR_EL1 <before> -> <after>, PSCI SYSTEM_RESET
 *   vmm-cbpr: boot 2, ICC_CTLR_EL1 <value>
 *   vmm-cbpr: timer interrupt 27 taken, PSCI SYSTEM_OFF
 *
 * Any other exception prints "vmm-cbpr: exception ..." and powers off.
 *
 * Built -ffreestanding -nostdlib -mgeneral-regs-only -mstrict-align (the MMU
 * stays off: every data access is to Device memory and must be aligned) and
 * linked by vmm-cbpr.lds at 0x40080000; vmm.sh copies it out as a raw binary.
 * With the arm64 Image header QEMU's -kernel loads it as it loads Linux, at
 * RAM base + text_offset, and enters it at EL1 with x0 = the device tree,
 * which this guest does not need: the addresses are the virt machine's.
 */
#include <stdint.h>

#define UART		0x09000000UL	/* PL011 */
#define UART_DR		0x000
#define UART_FR		0x018
#define UART_FR_TXFF	(1u << 5)
#define UART_CR		0x030
#define UART_CR_EN	0x301		/* UARTEN, TXE, RXE */

#define GICD		0x08000000UL
#define GICD_CTLR	0x0000
#define GICD_CTLR_RWP	(1u << 31)
#define GICD_CTLR_ENABLE (1u << 1 | 1u << 4)	/* EnableGrp1, ARE */
#define GICR_SGI	0x080b0000UL	/* vCPU 0's SGI_base */
#define GICR_IGROUPR0	0x0080
#define GICR_ISENABLER0	0x0100
#define GICR_IPRIORITYR	0x0400

#define VTIMER_PPI	27
#define IRQ_VECTOR	0x280		/* IRQ, current EL with SP_ELx */

#define PSCI_SYSTEM_OFF		0x84000008UL
#define PSCI_SYSTEM_RESET	0x84000009UL

#define STACK_TOP	0x40100000	/* the image is a few KB at 0x40080000 */
#define BOOTS		((volatile uint64_t *)STACK_TOP)	/* just above the stack */
#define BOOTS_MAGIC	0x4342505200000000UL	/* "CBPR" in the upper half */

#define str(x)		#x
#define xstr(x)		str(x)

#define read_sysreg(r) ({ uint64_t __v; asm volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define write_sysreg(r, v) asm volatile("msr " #r ", %0" : : "r"((uint64_t)(v)))
#define isb() asm volatile("isb" : : : "memory")

/*
 * The arm64 Image header (Documentation/arch/arm64/booting.rst), the entry
 * code and the exception vectors: each of the 16 vectors calls exception()
 * with its offset.
 */
asm(
"	.section .head, \"ax\"\n"
"	b	start\n"			/* code0 */
"	.long	0\n"				/* code1 */
"	.quad	0x80000\n"			/* text_offset */
"	.quad	_image_size\n"			/* image_size (vmm-cbpr.lds) */
"	.quad	0\n"				/* flags: little endian */
"	.quad	0, 0, 0\n"
"	.ascii	\"ARM\\x64\"\n"			/* magic */
"	.long	0\n"
"start:\n"
"	mov	x0, #" xstr(STACK_TOP) "\n"
"	mov	sp, x0\n"
"	bl	guest_main\n"
"	.text\n"
"	.balign	2048\n"
"vectors:\n"
"	.set	offset, 0\n"
"	.rept	16\n"
"	mov	x0, #offset\n"
"	b	exception\n"
"	.balign	128\n"
"	.set	offset, offset + 0x80\n"
"	.endr\n"
);

static void mmio_write(unsigned long addr, uint32_t val)
{
	*(volatile uint32_t *)addr = val;
}

static uint32_t mmio_read(unsigned long addr)
{
	return *(volatile uint32_t *)addr;
}

static void uart_putc(char c)
{
	while (mmio_read(UART + UART_FR) & UART_FR_TXFF)
		;
	mmio_write(UART + UART_DR, c);
}

static void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

static void puthex(uint64_t v)
{
	int i;

	uart_puts("0x");
	for (i = 60; i > 0 && !(v >> i); i -= 4)
		;
	for (; i >= 0; i -= 4)
		uart_putc("0123456789abcdef"[(v >> i) & 0xf]);
}

static void putdec(unsigned int v)
{
	if (v >= 10)
		putdec(v / 10);
	uart_putc('0' + v % 10);
}

static __attribute__((noreturn)) void psci(unsigned long fn)
{
	register unsigned long x0 asm("x0") = fn;

	asm volatile("hvc #0" : "+r"(x0) : : "memory");
	uart_puts("vmm-cbpr: PSCI call returned\n");
	for (;;)
		asm volatile("wfi");
}

/* Route the virtual timer's PPI to this vCPU as a group 1 interrupt and arm the timer. */
static void arm_timer(void)
{
	unsigned long prio = GICR_SGI + GICR_IPRIORITYR + VTIMER_PPI / 4 * 4;
	int shift = VTIMER_PPI % 4 * 8;

	mmio_write(GICD + GICD_CTLR, mmio_read(GICD + GICD_CTLR) | GICD_CTLR_ENABLE);
	while (mmio_read(GICD + GICD_CTLR) & GICD_CTLR_RWP)
		;
	mmio_write(GICR_SGI + GICR_IGROUPR0, mmio_read(GICR_SGI + GICR_IGROUPR0) | 1u << VTIMER_PPI);
	mmio_write(prio, (mmio_read(prio) & ~(0xffu << shift)) | 0x80u << shift);
	mmio_write(GICR_SGI + GICR_ISENABLER0, 1u << VTIMER_PPI);

	write_sysreg(ICC_PMR_EL1, 0xff);
	write_sysreg(ICC_IGRPEN1_EL1, 1);
	write_sysreg(CNTV_TVAL_EL0, read_sysreg(CNTFRQ_EL0) / 100);	/* 10 ms */
	write_sysreg(CNTV_CTL_EL0, 1);					/* enabled, unmasked */
	isb();
}

/* Called by every vector with its offset; never returns. */
void exception(unsigned long offset)
{
	uint64_t intid;

	if (offset != IRQ_VECTOR) {
		uart_puts("vmm-cbpr: exception at vector ");
		puthex(offset);
		uart_puts(", ESR_EL1 ");
		puthex(read_sysreg(ESR_EL1));
		uart_puts(", ELR_EL1 ");
		puthex(read_sysreg(ELR_EL1));
		uart_puts("\n");
		psci(PSCI_SYSTEM_OFF);
	}
	intid = read_sysreg(ICC_IAR1_EL1) & 0xffffff;
	write_sysreg(CNTV_CTL_EL0, 0);
	write_sysreg(ICC_EOIR1_EL1, intid);
	isb();
	uart_puts("vmm-cbpr: ");
	uart_puts(intid == VTIMER_PPI ? "timer interrupt " : "unexpected interrupt ");
	putdec(intid);
	uart_puts(" taken, PSCI SYSTEM_OFF\n");
	psci(PSCI_SYSTEM_OFF);
}

void guest_main(void)
{
	extern char vectors[];
	unsigned int boot;
	uint64_t ctlr;

	mmio_write(UART + UART_CR, UART_CR_EN);
	write_sysreg(VBAR_EL1, vectors);
	write_sysreg(ICC_SRE_EL1, read_sysreg(ICC_SRE_EL1) | 1);	/* system register interface */
	isb();
	ctlr = read_sysreg(ICC_CTLR_EL1);

	boot = (*BOOTS & ~0xffffffffUL) == BOOTS_MAGIC ? (*BOOTS & 0xffffffff) + 1 : 1;
	*BOOTS = BOOTS_MAGIC | boot;
	uart_puts("vmm-cbpr: boot ");
	putdec(boot);
	uart_puts(", ICC_CTLR_EL1 ");
	puthex(ctlr);
	if (boot == 1) {
		write_sysreg(ICC_CTLR_EL1, ctlr | 1);	/* CBPR */
		isb();
		uart_puts(" -> ");
		puthex(read_sysreg(ICC_CTLR_EL1));
		uart_puts(", PSCI SYSTEM_RESET\n");
		psci(PSCI_SYSTEM_RESET);
	}
	uart_puts("\n");
	arm_timer();
	asm volatile("msr daifclr, #2");	/* unmask IRQs */
	for (;;)
		asm volatile("wfi");
}
