/* ctl_daemon.c: process-level helpers bananad's main uses around the
 * controller: going to the background (a parent that exits only once the
 * daemon is ready, so scripts can use the socket right after), and
 * registering the wire types built into this binary.
 */
#include "ctl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bn_log.h"
#include "bn_wire.h"
#ifdef BN_HAVE_WIRE_SHM
#include "shm_wire.h"
#endif
#ifdef BN_HAVE_WIRE_VXLAN
#include "vxlan_wire.h"
#endif
#ifdef BN_HAVE_WIRE_VPN
#include "vpn_wire.h"
#endif
#ifdef BN_HAVE_WIRE_NBD
#include "nbd_wire.h"
#endif
#ifdef BN_HAVE_WIRE_STREAM
#include "stream_wire.h"
#endif

int bn_ctl_daemonize(int *ready_fd)
{
        int p[2], null;
        pid_t pid;
        char c;

        *ready_fd = -1;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid > 0) {
                /* parent: wait for "ready" (a byte) or failure (EOF) */
                ssize_t n;
                close(p[1]);
                do
                        n = read(p[0], &c, 1);
                while (n < 0 && errno == EINTR);
                _exit(n == 1 ? 0 : 1);
        }
        close(p[0]);
        if (setsid() < 0)
                return -errno;
        if (chdir("/") < 0)
                return -errno;
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2)
                        close(null);
        }
        *ready_fd = p[1];
        return 0;
}

int bn_ctl_register_wires(struct bn_wire_registry *r)
{
        static const struct bn_wire_class *const builtin[] = {
#ifdef BN_HAVE_WIRE_SHM
            &bn_wire_shm_class,
#endif
#ifdef BN_HAVE_WIRE_VXLAN
            &bn_wire_vxlan_class,
#endif
#ifdef BN_HAVE_WIRE_VPN
            &bn_wire_vpn_class,
#endif
#ifdef BN_HAVE_WIRE_NBD
            &bn_wire_nbd_class,
#ifdef BN_HAVE_WIRE_VPN
            &bn_wire_nbd_vpn_class, /* after vpn: rides its tunnels */
#endif
#endif
#ifdef BN_HAVE_WIRE_STREAM
            &bn_wire_stream_class,
#endif
            NULL,
        };
        void *ctx;
        int rc;

        for (size_t i = 0; builtin[i]; i++) {
                if (bn_wire_registry_find(r, builtin[i]->name, &ctx))
                        continue;
                if ((rc = bn_wire_registry_add(r, builtin[i]))) {
                        bn_err("controller", "cannot register wire type %s: %s", builtin[i]->name,
                               strerror(-rc));
                        return rc;
                }
        }
        return 0;
}
