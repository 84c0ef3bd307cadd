/*
 * loop_close: open-session succeeds (and says so), close-session spins
 * forever. The instance that hangs is the one open-session used, so the
 * time limit must hold on the second call to a live instance too.
 */
#include <security/pam_modules.h>
#include <security/pam_ext.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags; (void)argc; (void)argv;
    pam_info(pamh, "loop_close: open");
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    volatile unsigned long spins = 0;

    (void)pamh; (void)flags; (void)argc; (void)argv;
    for (;;)
        spins++;
}
