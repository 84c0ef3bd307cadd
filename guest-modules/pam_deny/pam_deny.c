/*
 * pam_deny: the session hooks of Linux-PAM 1.5.2's pam_deny.so. Each
 * management group fails with its own code; for sessions that is
 * PAM_SESSION_ERR, for opening and closing alike (older releases returned
 * PAM_SYSTEM_ERR here).
 */
#include <security/pam_modules.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SESSION_ERR;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SESSION_ERR;
}
