/* fw_test.h: the framework's unit tests' checks: CHECK of tests/bn_check.h
 * (counting) and FW_DONE(), their end. */
#ifndef FW_TEST_H
#define FW_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "../bn_check.h"

#define FW_DONE()                                                                                  \
        do {                                                                                       \
                if (bn_check_failures) {                                                           \
                        fprintf(stderr, "%d check(s) failed\n", bn_check_failures);                \
                        return 1;                                                                  \
                }                                                                                  \
                printf("all checks passed\n");                                                     \
                return 0;                                                                          \
        } while (0)

#endif
