/*
 * pam_debug: the session hooks of Linux-PAM 1.5.2's pam_debug.so, the
 * module that returns what its arguments tell it to, so a stack's control
 * flow can be traced.
 *
 * Arguments: open_session=<code> close_session=<code>, where <code> is a
 * return-code token of libpam's pam_tokens.h (success, session_err, ...).
 * Without one the hook returns PAM_SUCCESS.
 */
#include <string.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

/* libpam/pam_tokens.h: the name of each return code, by number. These are
 * the words pam.d bracket controls and pam_debug's arguments use. */
static const char *const return_tokens[_PAM_RETURN_VALUES] = {
    "success", "open_err", "symbol_err", "service_err", "system_err",
    "buf_err", "perm_denied", "auth_err", "cred_insufficient",
    "authinfo_unavail", "user_unknown", "maxtries", "new_authtok_reqd",
    "acct_expired", "session_err", "cred_unavail", "cred_expired",
    "cred_err", "no_module_data", "conv_err", "authtok_err",
    "authtok_recover_err", "authtok_lock_busy", "authtok_disable_aging",
    "try_again", "ignore", "abort", "authtok_expired", "module_unknown",
    "bad_item", "conv_again", "incomplete",
};

/*
 * As pam_debug.c's parse_args: only the first argument that starts with
 * "<event>=" counts. If its value names a code, that code is returned and
 * the argument itself is shown with pam_info (whatever the conversation
 * answers, and PAM_SILENT notwithstanding); an unknown value leaves the
 * default. Later "<event>=" arguments are never looked at.
 */
static int parse_args(int retval, const char *event, pam_handle_t *pamh,
                      int argc, const char **argv)
{
    size_t length = strlen(event);
    int i, j;

    for (i = 0; i < argc; ++i) {
        if (strncmp(event, argv[i], length) != 0 || argv[i][length] != '=')
            continue;
        for (j = 0; j < _PAM_RETURN_VALUES; ++j) {
            if (strcmp(argv[i] + length + 1, return_tokens[j]) == 0) {
                retval = j;
                (void)pam_info(pamh, "%s", argv[i]);
                break;
            }
        }
        break;
    }
    return retval;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    return parse_args(PAM_SUCCESS, "open_session", pamh, argc, argv);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    return parse_args(PAM_SUCCESS, "close_session", pamh, argc, argv);
}
