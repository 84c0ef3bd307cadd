/*
 * loop_open: open-session spins forever without calling the host, the
 * plainest case of the time limit. close-session is never reached in a
 * sandbox that works; it returns PAM_SUCCESS.
 */
#include <security/pam_modules.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    /* volatile: the loop has a side effect, so the compiler keeps it. */
    volatile unsigned long spins = 0;

    (void)pamh; (void)flags; (void)argc; (void)argv;
    for (;;)
        spins++;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
