/*
 * <security/pam_modules.h> for pamwasm C guests: the module side of the
 * PAM API, as in Linux-PAM 1.5.2.
 *
 * A module defines pam_sm_open_session and pam_sm_close_session; the glue
 * exports them as the world's `open-session` / `close-session`. A hook the
 * module does not define returns PAM_MODULE_UNKNOWN, as libpam's dispatcher
 * does for a module without that symbol.
 */
#ifndef _SECURITY_PAM_MODULES_H
#define _SECURITY_PAM_MODULES_H

#include <security/_pam_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Pointer data private to this module instance. `cleanup` runs with
 * PAM_DATA_REPLACE when the name is set again. The world has no pam_end
 * hook, so cleanups do not run when the session ends: the instance and all
 * its memory are dropped together. Data that must outlive the instance
 * (open and close in different processes) belongs in the byte API of
 * <pamwasm.h>.
 */
extern int PAM_NONNULL((1,2))
pam_set_data(pam_handle_t *pamh, const char *module_data_name, void *data,
             void (*cleanup)(pam_handle_t *pamh, void *data, int error_status));

extern int PAM_NONNULL((1,2,3))
pam_get_data(const pam_handle_t *pamh, const char *module_data_name,
             const void **data);

extern int PAM_NONNULL((1,2))
pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt);

int pam_sm_open_session(pam_handle_t *pamh, int flags,
                        int argc, const char **argv);
int pam_sm_close_session(pam_handle_t *pamh, int flags,
                         int argc, const char **argv);

/* Flags of the other management groups, kept for source compatibility. */
#define PAM_PRELIM_CHECK    0x4000
#define PAM_UPDATE_AUTHTOK  0x2000

/* Cleanup status bit when pam_set_data replaces an entry. */
#define PAM_DATA_REPLACE 0x20000000

/* Kept by Linux-PAM for old sources; means nothing more than extern. */
#define PAM_EXTERN extern

#ifdef __cplusplus
}
#endif

#endif /* _SECURITY_PAM_MODULES_H */
