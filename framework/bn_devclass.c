/* bn_devclass.c: the per-daemon registry of device classes. */
#include "bn_devclass.h"

#include <errno.h>
#include <string.h>

void bn_devclass_registry_init(struct bn_devclass_registry *r)
{
        memset(r, 0, sizeof(*r));
}

int bn_devclass_register(struct bn_devclass_registry *r, const struct bn_devclass *cls)
{
        if (!cls || !cls->name)
                return -EINVAL;
        if (cls->backend_types[0] && (!cls->probe || !cls->connect))
                return -EINVAL;
        if (bn_devclass_find(r, cls->name))
                return -EEXIST;
        for (unsigned i = 0; i < BN_DEVCLASS_TYPES_MAX && cls->backend_types[i]; i++)
                if (bn_devclass_find_backend(r, cls->backend_types[i]))
                        return -EEXIST;
        if (r->n >= BN_DEVCLASSES_MAX)
                return -ENOSPC;
        r->cls[r->n++] = cls;
        return 0;
}

const struct bn_devclass *bn_devclass_find(const struct bn_devclass_registry *r, const char *name)
{
        for (unsigned i = 0; i < r->n; i++)
                if (!strcmp(r->cls[i]->name, name))
                        return r->cls[i];
        return NULL;
}

const struct bn_devclass *bn_devclass_find_backend(const struct bn_devclass_registry *r,
                                                   const char *backend_type)
{
        for (unsigned i = 0; i < r->n; i++)
                for (unsigned j = 0; j < BN_DEVCLASS_TYPES_MAX && r->cls[i]->backend_types[j]; j++)
                        if (!strcmp(r->cls[i]->backend_types[j], backend_type))
                                return r->cls[i];
        return NULL;
}
