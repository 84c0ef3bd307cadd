/*
 * <security/pam_ext.h> for pamwasm C guests: Linux-PAM's extension calls
 * for logging and talking to the user, with the same prototypes.
 *
 * pam_syslog's priority is a syslog(3) LOG_* level (facility bits are
 * ignored) and reaches the host as the WIT `priority` case of the same
 * number. pam_info / pam_error / pam_prompt go to the world's
 * `conversation` interface, as Linux-PAM's go to the application's conv().
 */
#ifndef _SECURITY__PAM_EXT_H_
#define _SECURITY__PAM_EXT_H_

#include <security/_pam_types.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

extern void PAM_FORMAT((printf, 3, 0)) PAM_NONNULL((3))
pam_vsyslog(const pam_handle_t *pamh, int priority,
            const char *fmt, va_list args);

extern void PAM_FORMAT((printf, 3, 4)) PAM_NONNULL((3))
pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...);

extern int PAM_FORMAT((printf, 4, 0)) PAM_NONNULL((1,4))
pam_vprompt(pam_handle_t *pamh, int style, char **response,
            const char *fmt, va_list args);

extern int PAM_FORMAT((printf, 4, 5)) PAM_NONNULL((1,4))
pam_prompt(pam_handle_t *pamh, int style, char **response,
           const char *fmt, ...);

#define pam_error(pamh, fmt...) \
        pam_prompt(pamh, PAM_ERROR_MSG, NULL, fmt)
#define pam_verror(pamh, fmt, args) \
        pam_vprompt(pamh, PAM_ERROR_MSG, NULL, fmt, args)
#define pam_info(pamh, fmt...) \
        pam_prompt(pamh, PAM_TEXT_INFO, NULL, fmt)
#define pam_vinfo(pamh, fmt, args) \
        pam_vprompt(pamh, PAM_TEXT_INFO, NULL, fmt, args)

extern int
pam_get_authtok(pam_handle_t *pamh, int item, const char **authtok,
                const char *prompt)
    PAMWASM_UNAVAILABLE("pamwasm: session modules never see passwords");

#ifdef __cplusplus
}
#endif

#endif /* _SECURITY__PAM_EXT_H_ */
