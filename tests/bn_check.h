/* tests/bn_check.h: the check macros shared by the C tests (header-only).
 *
 * CHECK(cond): when cond is false, print
 *   "<file>:<line>: <function>: check failed: <cond>" on stderr, then
 *   - by default count it in bn_check_failures and go on (the test's main
 *     returns non-zero at the end when bn_check_failures is not 0);
 *   - if the file defines BN_CHECK_FATAL before including this header,
 *     call BN_CHECK_ON_FAIL() (when the file defines it: e.g. kill a
 *     helper process) and exit(1) at once.
 * CHECK_MSG(cond, fmt, ...): the same, with a printf-style explanation.
 * CHECK_EQ(a, b): CHECK that two integers are equal, printing both values.
 */
#ifndef BN_CHECK_H
#define BN_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int bn_check_failures __attribute__((unused));

#ifdef BN_CHECK_FATAL
#ifndef BN_CHECK_ON_FAIL
#define BN_CHECK_ON_FAIL() ((void)0)
#endif
#define BN_CHECK_FAILED_()                                                                         \
        do {                                                                                       \
                bn_check_failures++;                                                               \
                BN_CHECK_ON_FAIL();                                                                \
                exit(1);                                                                           \
        } while (0)
#else
#define BN_CHECK_FAILED_() bn_check_failures++
#endif

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
                                __func__, #cond);                                                  \
                        BN_CHECK_FAILED_();                                                        \
                }                                                                                  \
        } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: %s: check failed: %s: ", __FILE__, __LINE__,       \
                                __func__, #cond);                                                  \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        BN_CHECK_FAILED_();                                                        \
                }                                                                                  \
        } while (0)

#define CHECK_EQ(a, b)                                                                             \
        do {                                                                                       \
                long long va_ = (long long)(a), vb_ = (long long)(b);                              \
                if (va_ != vb_) {                                                                  \
                        fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__,  \
                                __LINE__, __func__, #a, va_, #b, vb_);                             \
                        BN_CHECK_FAILED_();                                                        \
                }                                                                                  \
        } while (0)

#endif
