/*
 * <pamwasm.h>: what pamwasm adds to the Linux-PAM module API.
 *
 * Module data as bytes, kept by the host through the world's `data`
 * interface. Unlike pam_set_data's pointers, which live in this instance's
 * memory, these bytes survive from open-session to close-session when the
 * two run in different processes or instances. Names are private to this
 * stack line of this session and separate from pam_set_data's names.
 *
 *   pamwasm_set_data_bytes(pamh, "started", &t, sizeof t);
 *   ...
 *   const void *p; size_t n;
 *   if (pamwasm_get_data_bytes(pamh, "started", &p, &n) == PAM_SUCCESS) ...
 */
#ifndef _PAMWASM_H
#define _PAMWASM_H

#include <stddef.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stores `len` bytes under `name`, replacing what was there. PAM_SUCCESS,
 * PAM_BUF_ERR when the host's size limits are exceeded, PAM_SYSTEM_ERR for
 * a NULL handle or name. */
int pamwasm_set_data_bytes(pam_handle_t *pamh, const char *name,
                           const void *buf, size_t len);

/* Reads the bytes stored under `name`: PAM_SUCCESS with *buf / *len set,
 * or PAM_NO_MODULE_DATA. *buf is owned by the handle and stays valid until
 * the next set, get or delete of the same name (as pam_get_data's pointer
 * stays valid until the entry is replaced). */
int pamwasm_get_data_bytes(pam_handle_t *pamh, const char *name,
                           const void **buf, size_t *len);

/* Removes the bytes stored under `name`: PAM_SUCCESS or PAM_NO_MODULE_DATA. */
int pamwasm_delete_data_bytes(pam_handle_t *pamh, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* _PAMWASM_H */
