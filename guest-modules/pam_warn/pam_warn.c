/*
 * pam_warn: the session hooks of Linux-PAM 1.5.2's pam_warn.so. Each hook
 * logs who is asking for what at LOG_NOTICE and then steps aside with
 * PAM_IGNORE. No arguments.
 */
#include <syslog.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

/* pam_warn.c's OBTAIN: the item, or "<unknown>" when it is not set. The
 * return value of pam_get_item is not checked there either. */
static const char *obtain(pam_handle_t *pamh, int item_type)
{
    const void *value = NULL;

    (void)pam_get_item(pamh, item_type, &value);
    return value ? value : "<unknown>";
}

static void log_items(pam_handle_t *pamh, const char *function, int flags)
{
    /* Items are read in pam_warn.c's order (service, tty, user, ruser,
     * rhost), which a host tracing get-item calls can observe. */
    const char *service = obtain(pamh, PAM_SERVICE);
    const char *terminal = obtain(pamh, PAM_TTY);
    const char *user = obtain(pamh, PAM_USER);
    const char *ruser = obtain(pamh, PAM_RUSER);
    const char *rhost = obtain(pamh, PAM_RHOST);

    /* The same format as pam_warn.c, trailing newline included. */
    pam_syslog(pamh, LOG_NOTICE,
               "function=[%s] flags=%#x service=[%s] terminal=[%s] user=[%s]"
               " ruser=[%s] rhost=[%s]\n", function, flags,
               service, terminal, user, ruser, rhost);
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)argc; (void)argv;
    log_items(pamh, __func__, flags);
    return PAM_IGNORE;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)argc; (void)argv;
    log_items(pamh, __func__, flags);
    return PAM_IGNORE;
}
