/*
 * pam_showenv: a debugging module that shows what WASM modules see of the
 * PAM environment (pam_getenv), e.g. the variables pam_env.so set earlier in
 * the system stack.
 *
 * For each argument NAME, in order, one pam_info message:
 *   "NAME=value"   when the PAM environment has NAME (value may be empty)
 *   "NAME unset"   when it does not
 * Both hooks do the same (so a stack shows the environment at open and at
 * close) and return PAM_SUCCESS; under PAM_SILENT nothing is shown and they
 * return PAM_IGNORE, as pam_echo does.
 */
#include <security/pam_modules.h>
#include <security/pam_ext.h>

static int show(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    int i;

    if (flags & PAM_SILENT)
        return PAM_IGNORE;
    for (i = 0; i < argc; i++) {
        const char *value = pam_getenv(pamh, argv[i]);

        /* The conversation's answer does not change the result. */
        if (value != NULL)
            (void)pam_info(pamh, "%s=%s", argv[i], value);
        else
            (void)pam_info(pamh, "%s unset", argv[i]);
    }
    return PAM_SUCCESS;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return show(pamh, flags, argc, argv);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return show(pamh, flags, argc, argv);
}
