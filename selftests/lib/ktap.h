/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal KTAP/TAP 13 helpers for kquic's selftests, in the style of the kernel's kselftest.h.
 *
 * A test file defines its cases with KTEST(name) { ... } and ends with KTEST_MAIN().  Inside a
 * case, the EXPECT_* macros report a failure (with file, line and errno) and return from it.
 * Each case prints one "ok N name" / "not ok N name" line; the program exits 1 if any failed.
 */
#ifndef _KQUIC_KTAP_H
#define _KQUIC_KTAP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ktest {
	const char *name;
	int (*fn)(void);	/* 0 pass, 1 fail, 2 skip */
};

#define KTEST_MAX 128
static struct ktest ktests[KTEST_MAX];
static int ktest_count;

#define KTEST(n)								\
	static int ktest_##n(void);						\
	__attribute__((constructor)) static void ktest_reg_##n(void)		\
	{									\
		if (ktest_count < KTEST_MAX)					\
			ktests[ktest_count++] = (struct ktest){ #n, ktest_##n };\
	}									\
	static int ktest_##n(void)

#define KFAIL(fmt, ...)								\
	do {									\
		printf("# %s:%d: " fmt " (errno %d: %s)\n", __FILE__, __LINE__,	\
		       ##__VA_ARGS__, errno, strerror(errno));			\
		return 1;							\
	} while (0)

#define KSKIP(fmt, ...)								\
	do {									\
		printf("# skip: " fmt "\n", ##__VA_ARGS__);			\
		return 2;							\
	} while (0)

/* expr must be true */
#define EXPECT_TRUE(expr)							\
	do { errno = 0; if (!(expr)) KFAIL("expected: %s", #expr); } while (0)

/* a syscall-like expression must succeed (>= 0) */
#define EXPECT_OK(expr)								\
	do {									\
		errno = 0;							\
		long _r = (long)(expr);						\
		if (_r < 0)							\
			KFAIL("%s failed with %ld", #expr, _r);			\
	} while (0)

/* a syscall-like expression must fail with -1 and the given errno */
#define EXPECT_ERRNO(expr, err)							\
	do {									\
		errno = 0;							\
		long _r = (long)(expr);						\
		if (_r != -1 || errno != (err))					\
			KFAIL("%s returned %ld, wanted -1 with %s (%d)", #expr,	\
			      _r, #err, err);					\
	} while (0)

#define EXPECT_EQ(a, b)								\
	do {									\
		long long _a = (long long)(a), _b = (long long)(b);		\
		if (_a != _b)							\
			KFAIL("%s == %lld, wanted %s == %lld", #a, _a, #b, _b);	\
	} while (0)

#define KTEST_MAIN()								\
	int main(void)								\
	{									\
		int failed = 0, passed = 0, skipped = 0;			\
		setvbuf(stdout, NULL, _IOLBF, 0);				\
		printf("TAP version 13\n1..%d\n", ktest_count);			\
		for (int i = 0; i < ktest_count; i++) {				\
			int r = ktests[i].fn();					\
			if (r == 2) {						\
				skipped++;					\
				printf("ok %d %s # SKIP\n", i + 1, ktests[i].name);\
			} else if (r) {						\
				failed++;					\
				printf("not ok %d %s\n", i + 1, ktests[i].name);\
			} else {						\
				passed++;					\
				printf("ok %d %s\n", i + 1, ktests[i].name);	\
			}							\
		}								\
		printf("# totals: pass:%d fail:%d skip:%d\n", passed, failed,	\
		       skipped);						\
		return failed ? 1 : 0;						\
	}

#endif
