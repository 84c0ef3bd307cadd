/*
 * The PAM environment (pam_getenv, pam_putenv, pam_getenvlist) on top of
 * the world's `env` interface, as libpam 1.5.2's pam_env.c behaves.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>

/*
 * The pointer stays valid while the variable keeps its value, as the one
 * libpam returns points into its own environment list.
 */
const char *pam_getenv(pam_handle_t *pamh, const char *name)
{
    struct kept_string **link, *k;
    char *value;

    if (pamh == NULL || name == NULL)
        return NULL;
    value = __pamwasm_host_get_env(name);

    for (link = &pamh->env; (k = *link) != NULL; link = &k->next)
        if (strcmp(k->name, name) == 0)
            break;
    if (k != NULL && value != NULL && strcmp(k->value, value) == 0) {
        free(value);
        return k->value;
    }
    if (k != NULL) {
        *link = k->next;
        free(k->name);
        free(k->value);
        free(k);
    }
    if (value == NULL)
        return NULL;
    k = malloc(sizeof(*k));
    if (k == NULL || (k->name = strdup(name)) == NULL) {
        free(k);
        free(value);
        return NULL;
    }
    k->value = value;
    k->next = pamh->env;
    pamh->env = k;
    return value;
}

/* The host implements pam_putenv's rules (NAME=value, NAME=, NAME). */
int pam_putenv(pam_handle_t *pamh, const char *name_value)
{
    if (pamh == NULL)
        return PAM_SYSTEM_ERR;
    if (name_value == NULL)
        return PAM_PERM_DENIED;
    return __pamwasm_host_put_env(name_value);
}

/* A malloc'd copy the caller frees, strings and array, as with libpam. */
char **pam_getenvlist(pam_handle_t *pamh)
{
    if (pamh == NULL)
        return NULL;
    return __pamwasm_host_list_env();
}
