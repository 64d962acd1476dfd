// SPDX-License-Identifier: MIT
/* kernel_warnings: splats found in a kernel's log records, and only there. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "targets/kernel_warnings.h"

/* A 6.1 WARN_ON as /dev/kmsg gives it (level 4 = 4, facility 0), around
 * boot records, a dictionary line, and a userspace record (facility 1). */
static const char log_with_warning[] =
	"6,1,0,-;Linux version 6.1.0-57-amd64\n"
	" SUBSYSTEM=cpu\n"
	"12,300,5000,-;WARNING: not the kernel's: a test printed this\n"
	"4,301,5001,-;------------[ cut here ]------------\n"
	"4,302,5002,-;vmtest-test-warning\n"
	"4,303,5003,-;WARNING: CPU: 1 PID: 77 at /tmp/m/warn.c:6 warn_init+0x15/0x1000 [warn]\n"
	"4,304,5004,-;Modules linked in: warn(OE+)\n"
	"4,305,5005,c;Call Trace:\n"
	" DEVICE=+pci:0000:00:01.0\n"
	"4,306,5006,-; <TASK>\n"
	"4,307,5007,-;---[ end trace 0000000000000000 ]---\n"
	"6,308,5008,-;after the splat\n";

static void test_a_warning_and_not_userspace(void **state)
{
	struct kernel_warnings w;

	assert_int_equal(kernel_warnings_find(log_with_warning, strlen(log_with_warning), NULL, &w),
			 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.items[0].title,
			    "WARNING: CPU: 1 PID: 77 at /tmp/m/warn.c:6 warn_init+0x15/0x1000 [warn]");
	assert_string_equal(w.items[0].text,
			    "------------[ cut here ]------------\n"
			    "vmtest-test-warning\n"
			    "WARNING: CPU: 1 PID: 77 at /tmp/m/warn.c:6 warn_init+0x15/0x1000 [warn]\n"
			    "Modules linked in: warn(OE+)\n"
			    "Call Trace:\n"
			    " <TASK>\n"
			    "---[ end trace 0000000000000000 ]---\n");
	assert_false(w.records_lost);
	kernel_warnings_clear(&w);
}

static void test_allowed_patterns(void **state)
{
	char *allowed[] = { "^Modules linked in: warn\\(", NULL };
	char *other[] = { "^BUG: ", NULL };
	char *bad[] = { "(", NULL };
	struct kernel_warnings w;

	assert_int_equal(kernel_warnings_find(log_with_warning, strlen(log_with_warning), allowed,
					      &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.allowed, 1);
	kernel_warnings_clear(&w);
	assert_int_equal(kernel_warnings_find(log_with_warning, strlen(log_with_warning), other,
					      &w), 0);
	assert_int_equal(w.n, 1);
	kernel_warnings_clear(&w);
	assert_int_equal(kernel_warnings_find(log_with_warning, strlen(log_with_warning), bad, &w),
			 -EINVAL);
}

/* Each kind of report is found; one report ends where the next begins. */
static void test_every_kind(void **state)
{
	static const char *const starts[] = {
		"BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"kernel BUG at mm/slub.c:1!",
		"Oops: 0002 [#1] PREEMPT SMP NOPTI",
		"general protection fault, probably for non-canonical address 0xdead: 0000 [#1]",
		"BUG: KASAN: slab-out-of-bounds in f+0x1/0x2",
		"UBSAN: array-index-out-of-bounds in m.c:3:4",
		"BUG: KFENCE: use-after-free read in f+0x1/0x2",
		"WARNING: possible circular locking dependency detected",
		"WARNING: possible recursive locking detected",
		"INFO: rcu_preempt self-detected stall on CPU",
		"INFO: rcu_sched detected stalls on CPUs/tasks:",
		"INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
		"unreferenced object 0xffff888003a1c000 (size 64):",
		"Kernel panic - not syncing: Fatal exception",
	};
	char log[4096] = "";
	struct kernel_warnings w;

	for (size_t i = 0; i < sizeof(starts) / sizeof(*starts); i++) {
		char line[256];

		snprintf(line, sizeof(line), "3,%zu,0,-;%s\n4,%zu,0,-;a line of it\n", 2 * i,
			 starts[i], 2 * i + 1);
		strcat(log, line);
	}
	strcat(log, "vmtest;records lost: the kernel's ring buffer overflowed\n");
	assert_int_equal(kernel_warnings_find(log, strlen(log), NULL, &w), 0);
	assert_int_equal(w.n, sizeof(starts) / sizeof(*starts));
	for (size_t i = 0; i < w.n; i++) {
		char want[256];

		snprintf(want, sizeof(want), "%s\na line of it\n", starts[i]);
		assert_string_equal(w.items[i].text, want);
		assert_string_equal(w.items[i].title, starts[i]);
	}
	assert_true(w.records_lost);
	kernel_warnings_clear(&w);
}

/* What is not a report, or not a record, is none. */
static void test_nothing(void **state)
{
	static const char log[] = "6,1,0,-;all is well\n"
				  "not a record: WARNING: x\n"
				  "4,2,0,-;a WARNING: in the middle is no report\n"
				  "14,3,0,-;BUG: a daemon's syslog line\n"
				  "4,4,0,-;WARNING: torn";
	struct kernel_warnings w;

	assert_int_equal(kernel_warnings_find(log, strlen(log) - strlen("4,4,0,-;WARNING: torn"),
					      NULL, &w), 0);
	assert_int_equal(w.n, 0);
	kernel_warnings_clear(&w);
	assert_int_equal(kernel_warnings_find("", 0, NULL, &w), 0);
	assert_int_equal(w.n, 0);
	/* A torn last record still counts: the guest may die writing it. */
	assert_int_equal(kernel_warnings_find(log, strlen(log), NULL, &w), 0);
	assert_int_equal(w.n, 1);
	kernel_warnings_clear(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_warning_and_not_userspace),
		cmocka_unit_test(test_allowed_patterns),
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
