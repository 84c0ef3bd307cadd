/*
 * Module data: pam_set_data/pam_get_data (pointers, inside this instance)
 * and the pamwasm byte API (bytes, kept by the host's `data` interface).
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <pamwasm.h>


static struct pointer_data *find_pointer_data(struct pam_handle *h, const char *name)
{
    struct pointer_data *d;

    for (d = h->data; d != NULL; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

/*
 * As libpam's pam_data.c: replacing an entry first calls its cleanup with
 * PAM_DATA_REPLACE | PAM_SUCCESS (even when the new pointer is the same),
 * and NULL data is a valid value, not a deletion.
 */
int pam_set_data(pam_handle_t *pamh, const char *module_data_name, void *data,
                 void (*cleanup)(pam_handle_t *pamh, void *data, int error_status))
{
    struct pointer_data *entry;

    if (pamh == NULL || module_data_name == NULL)
        return PAM_SYSTEM_ERR;

    if ((entry = find_pointer_data(pamh, module_data_name)) != NULL) {
        if (entry->cleanup)
            entry->cleanup(pamh, entry->data, PAM_DATA_REPLACE | PAM_SUCCESS);
    } else if ((entry = malloc(sizeof(*entry))) != NULL) {
        if ((entry->name = strdup(module_data_name)) == NULL) {
            pam_syslog(pamh, LOG_CRIT, "pam_set_data: no memory for data name");
            free(entry);
            return PAM_BUF_ERR;
        }
        entry->next = pamh->data;
        pamh->data = entry;
    } else {
        pam_syslog(pamh, LOG_CRIT, "pam_set_data: cannot allocate data entry");
        return PAM_BUF_ERR;
    }

    entry->data = data;
    entry->cleanup = cleanup;
    return PAM_SUCCESS;
}

int pam_get_data(const pam_handle_t *pamh, const char *module_data_name, const void **datap)
{
    struct pointer_data *entry;

    if (pamh == NULL || module_data_name == NULL || datap == NULL)
        return PAM_SYSTEM_ERR;
    entry = find_pointer_data((struct pam_handle *)pamh, module_data_name);
    if (entry == NULL)
        return PAM_NO_MODULE_DATA;
    *datap = entry->data;
    return PAM_SUCCESS;
}

/* ----- Bytes kept by the host ----- */

/* Drops the buffer last handed out for `name`: the byte API's pointer is
 * valid until the next call about the same name. */
static void forget_bytes(struct pam_handle *h, const char *name)
{
    struct kept_bytes **link, *k;

    for (link = &h->bytes; (k = *link) != NULL; link = &k->next)
        if (strcmp(k->name, name) == 0) {
            *link = k->next;
            free(k->name);
            free(k->bytes);
            free(k);
            return;
        }
}

int pamwasm_set_data_bytes(pam_handle_t *pamh, const char *name, const void *buf, size_t len)
{
    int status;

    if (pamh == NULL || name == NULL || (buf == NULL && len != 0))
        return PAM_SYSTEM_ERR;
    /* Send before forgetting: buf may be the buffer last read for `name`. */
    status = __pamwasm_host_set_data(name, buf, len);
    forget_bytes(pamh, name);
    return status;
}

int pamwasm_get_data_bytes(pam_handle_t *pamh, const char *name, const void **buf, size_t *len)
{
    /* A distinct non-NULL pointer for an empty value, so that success never
     * comes with a NULL buffer. */
    static const char empty[1];
    struct kept_bytes *k;
    void *bytes;
    size_t n;

    if (pamh == NULL || name == NULL || buf == NULL || len == NULL)
        return PAM_SYSTEM_ERR;
    forget_bytes(pamh, name);
    if (!__pamwasm_host_get_data(name, &bytes, &n))
        return PAM_NO_MODULE_DATA;
    if (bytes == NULL) {
        *buf = empty;
        *len = 0;
        return PAM_SUCCESS;
    }
    k = malloc(sizeof(*k));
    if (k == NULL || (k->name = strdup(name)) == NULL) {
        free(k);
        free(bytes);
        return PAM_BUF_ERR;
    }
    k->bytes = bytes;
    k->next = pamh->bytes;
    pamh->bytes = k;
    *buf = bytes;
    *len = n;
    return PAM_SUCCESS;
}

int pamwasm_delete_data_bytes(pam_handle_t *pamh, const char *name)
{
    if (pamh == NULL || name == NULL)
        return PAM_SYSTEM_ERR;
    forget_bytes(pamh, name);
    return __pamwasm_host_delete_data(name);
}
