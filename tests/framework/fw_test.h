/* fw_test.h: a minimal check macro for the framework's unit tests. */
#ifndef FW_TEST_H
#define FW_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int fw_failures;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
                        fw_failures++;                                                             \
                }                                                                                  \
        } while (0)

#define FW_DONE()                                                                                  \
        do {                                                                                       \
                if (fw_failures) {                                                                 \
                        fprintf(stderr, "%d check(s) failed\n", fw_failures);                      \
                        return 1;                                                                  \
                }                                                                                  \
                printf("all checks passed\n");                                                     \
                return 0;                                                                          \
        } while (0)

#endif
