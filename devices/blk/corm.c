/* corm.c: helpers shared by every disk Corm (bn_blk_corm_wait). */
#include "bn_blk_corm.h"

#include <errno.h>
#include <poll.h>

int bn_blk_corm_wait(struct bn_blk_corm *c, int timeout_ms)
{
        struct pollfd pfd = {.fd = -1};
        int fd, tmo, r;
        short ev;

        bn_blk_corm_kick(c);
        if (bn_blk_corm_ready(c)) /* completed already (a page-cache read): no poll */
                return bn_blk_corm_process(c, POLLIN);
        bn_blk_corm_poll(c, &fd, &ev, &tmo);
        if (tmo < 0 || (timeout_ms >= 0 && tmo > timeout_ms))
                tmo = timeout_ms;
        pfd.fd = fd;
        pfd.events = ev;
        r = poll(&pfd, fd >= 0 ? 1 : 0, tmo);
        if (r < 0 && errno != EINTR)
                return -errno;
        return bn_blk_corm_process(c, r > 0 ? pfd.revents : 0);
}
