/* fuzz_topo.c: libFuzzer target over the YAML topology loader
 * (bn_topo_parse) with any bytes as the file. Invariants: it returns a
 * topology with no error, or no topology with at least one error, every
 * error "file:..."; a topology's wires have two ends and a type. */
#include "bn_topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        int r = bn_topo_parse("f.yaml", (const char *)data, size, &t, &errs);

        if (r == 0) {
                if (!t || errs.n)
                        abort();
                for (size_t i = 0; i < t->n_wires; i++)
                        if (!t->wires[i].end[0] || !t->wires[i].end[1] || !t->wires[i].type)
                                abort();
        } else if (t || (r == -EINVAL && !errs.n)) {
                abort();
        }
        for (size_t i = 0; i < errs.n; i++)
                if (strncmp(errs.msg[i], "f.yaml", 6) != 0)
                        abort();
        bn_topo_free(t);
        bn_topo_errs_free(&errs);
        return 0;
}
