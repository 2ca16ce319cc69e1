/* hv_guest.c: a minimal simulated guest for the 'hv' shell tests: creates a
 * domain on the xensim in $XENSIM_DIR (argv[1] = name, argv[2] = pages),
 * grants one page to Dom0, writes "<domid>\n" to stdout and waits to be
 * killed. Exits 1 with a message if the domain cannot be created. */
#include "bn_guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct bn_guest *g;
        uint32_t pfn;
        int rc;

        if (argc != 3) {
                fprintf(stderr, "usage: hv_guest NAME PAGES\n");
                return 2;
        }
        rc = bn_guest_create(&g, NULL, argv[1], (uint32_t)strtoul(argv[2], NULL, 0));
        if (rc < 0) {
                fprintf(stderr, "hv_guest: %s\n", strerror(-rc));
                return 1;
        }
        if (bn_guest_alloc_pages(g, 1, &pfn) < 0 || bn_guest_grant(g, pfn, 0, 0) < 0) {
                fprintf(stderr, "hv_guest: cannot grant a page\n");
                return 1;
        }
        printf("%u\n", bn_guest_domid(g));
        fflush(stdout);
        for (;;)
                pause();
}
