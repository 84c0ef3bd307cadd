/*
 * wrong_world: a working module built for another world, legacy.wit's
 * `legacy-module`, whose hooks take and return plain integers instead of
 * the session-module world's `session-flags` and `status`. Those lower to
 * the same core signatures, so the C SDK's glue links unchanged and only the
 * component's types differ: the host must refuse it at load, by type.
 *
 * open-session shows `wrong_world: open` and returns PAM_SUCCESS, as does
 * close-session (without the message).
 */
#include <security/pam_modules.h>
#include <security/pam_ext.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags; (void)argc; (void)argv;
    pam_info(pamh, "wrong_world: open");
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
