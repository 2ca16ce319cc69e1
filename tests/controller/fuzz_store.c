/* fuzz_store.c: libFuzzer target over the store loader: the input is
 * written as <dir>/store.json, opened by the embedded backend and, when it
 * loads, read into the desired state (ctl_desired_load) as bananad does at
 * start. Invariants: either step fails with a reason, or every endpoint and
 * wire loaded has the fields the reconciler dereferences. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_int.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
        struct bn_ctl c;
        struct bn_topo *t = NULL;
        char path[128], err[512] = "";
        int fd;

        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/bn-fuzz-store.%d", (int)getpid());
                mkdir(dir, 0700);
        }
        snprintf(path, sizeof(path), "%s/store.json", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size)
                abort();
        close(fd);
        memset(&c, 0, sizeof(c));
        if (bn_store_open_embedded(&c.store, dir, err, sizeof(err))) {
                if (!err[0])
                        abort();
                return 0;
        }
        if (ctl_desired_load(&c, &t, err, sizeof(err)) == 0) {
                for (size_t i = 0; i < t->n_eps; i++)
                        if (!t->eps[i].name || !t->eps[i].cls || !t->eps[i].location ||
                            !t->eps[i].home)
                                abort();
                for (size_t i = 0; i < t->n_wires; i++)
                        if (!t->wires[i].end[0] || !t->wires[i].end[1] || !t->wires[i].type)
                                abort();
                bn_topo_free(t);
        } else if (!err[0]) {
                abort();
        }
        bn_store_close(c.store);
        return 0;
}
