/*
 * Logging (pam_syslog, syslog) on top of the world's `log` interface, as
 * libpam 1.5.2's pam_syslog.c behaves, and pam_strerror.
 */
#include "glue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <security/pam_ext.h>

/*
 * libpam's pam_vsyslog sends "<module>(<service>:<type>): <message>" to
 * syslog at LOG_AUTHPRIV; here the host adds that prefix (log.wit) and
 * picks the facility, so only the level (the low three bits) is passed.
 * errno is kept for %m, as libpam does.
 */
void pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list args)
{
    (void)pamh;
    vsyslog(priority, fmt, args);
}

void pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    pam_vsyslog(pamh, priority, fmt, args);
    va_end(args);
}

void vsyslog(int priority, const char *fmt, va_list args)
{
    int saved_errno = errno;
    char *msgbuf;

    if (vasprintf(&msgbuf, fmt, args) < 0) {
        char line[64];

        snprintf(line, sizeof(line), "vasprintf: %m");
        __pamwasm_host_syslog(LOG_ERR, line);
        errno = saved_errno;
        return;
    }
    __pamwasm_host_syslog(priority & LOG_PRIMASK, msgbuf);
    free(msgbuf);
    errno = saved_errno;
}

void syslog(int priority, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsyslog(priority, fmt, args);
    va_end(args);
}

void openlog(const char *ident, int option, int facility)
{
    (void)ident; (void)option; (void)facility;
}

void closelog(void)
{
}

int setlogmask(int mask)
{
    (void)mask;
    return 0xff;
}

/* ----- pam_strerror: libpam 1.5.2's texts (untranslated) ----- */

static const char *const pam_messages[_PAM_RETURN_VALUES] = {
    [PAM_SUCCESS] = "Success",
    [PAM_OPEN_ERR] = "Failed to load module",
    [PAM_SYMBOL_ERR] = "Symbol not found",
    [PAM_SERVICE_ERR] = "Error in service module",
    [PAM_SYSTEM_ERR] = "System error",
    [PAM_BUF_ERR] = "Memory buffer error",
    [PAM_PERM_DENIED] = "Permission denied",
    [PAM_AUTH_ERR] = "Authentication failure",
    [PAM_CRED_INSUFFICIENT] = "Insufficient credentials to access authentication data",
    [PAM_AUTHINFO_UNAVAIL] = "Authentication service cannot retrieve authentication info",
    [PAM_USER_UNKNOWN] = "User not known to the underlying authentication module",
    [PAM_MAXTRIES] = "Have exhausted maximum number of retries for service",
    [PAM_NEW_AUTHTOK_REQD] = "Authentication token is no longer valid; new one required",
    [PAM_ACCT_EXPIRED] = "User account has expired",
    [PAM_SESSION_ERR] = "Cannot make/remove an entry for the specified session",
    [PAM_CRED_UNAVAIL] = "Authentication service cannot retrieve user credentials",
    [PAM_CRED_EXPIRED] = "User credentials expired",
    [PAM_CRED_ERR] = "Failure setting user credentials",
    [PAM_NO_MODULE_DATA] = "No module specific data is present",
    [PAM_CONV_ERR] = "Conversation error",
    [PAM_AUTHTOK_ERR] = "Authentication token manipulation error",
    [PAM_AUTHTOK_RECOVERY_ERR] = "Authentication information cannot be recovered",
    [PAM_AUTHTOK_LOCK_BUSY] = "Authentication token lock busy",
    [PAM_AUTHTOK_DISABLE_AGING] = "Authentication token aging disabled",
    [PAM_TRY_AGAIN] = "Failed preliminary check by password service",
    [PAM_IGNORE] = "The return value should be ignored by PAM dispatch",
    [PAM_ABORT] = "Critical error - immediate abort",
    [PAM_AUTHTOK_EXPIRED] = "Authentication token expired",
    [PAM_MODULE_UNKNOWN] = "Module is unknown",
    [PAM_BAD_ITEM] = "Bad item passed to pam_*_item()",
    [PAM_CONV_AGAIN] = "Conversation is waiting for event",
    [PAM_INCOMPLETE] = "Application needs to call libpam again",
};

const char *pam_strerror(pam_handle_t *pamh, int errnum)
{
    (void)pamh;
    if (errnum < 0 || errnum >= _PAM_RETURN_VALUES)
        return "Unknown PAM error";
    return pam_messages[errnum];
}
