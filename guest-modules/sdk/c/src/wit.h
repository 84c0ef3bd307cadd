/* Generated from wit/ by host/build/wit-bindings.ts: do not edit; after changing wit/, run `npm run wit-bindings`. */
#ifndef PAMWASM_WIT_H
#define PAMWASM_WIT_H

#include <security/_pam_types.h>
#include <syslog.h>

#define PAMWASM_WIT_PACKAGE "pamwasm:session"
#define PAMWASM_WIT_VERSION "0.1.0"

/* WIT `prompt-style` (wit/conversation.wit). */
enum wit_prompt_style {
    WIT_PROMPT_STYLE_ECHO_ON = 0,
    WIT_PROMPT_STYLE_ECHO_OFF = 1,
    WIT_PROMPT_STYLE_COUNT = 2
};

/* WIT `status` (wit/types.wit). */
enum wit_status {
    WIT_STATUS_SUCCESS = 0,
    WIT_STATUS_OPEN_ERR = 1,
    WIT_STATUS_SYMBOL_ERR = 2,
    WIT_STATUS_SERVICE_ERR = 3,
    WIT_STATUS_SYSTEM_ERR = 4,
    WIT_STATUS_BUF_ERR = 5,
    WIT_STATUS_PERM_DENIED = 6,
    WIT_STATUS_AUTH_ERR = 7,
    WIT_STATUS_CRED_INSUFFICIENT = 8,
    WIT_STATUS_AUTHINFO_UNAVAIL = 9,
    WIT_STATUS_USER_UNKNOWN = 10,
    WIT_STATUS_MAXTRIES = 11,
    WIT_STATUS_NEW_AUTHTOK_REQD = 12,
    WIT_STATUS_ACCT_EXPIRED = 13,
    WIT_STATUS_SESSION_ERR = 14,
    WIT_STATUS_CRED_UNAVAIL = 15,
    WIT_STATUS_CRED_EXPIRED = 16,
    WIT_STATUS_CRED_ERR = 17,
    WIT_STATUS_NO_MODULE_DATA = 18,
    WIT_STATUS_CONV_ERR = 19,
    WIT_STATUS_AUTHTOK_ERR = 20,
    WIT_STATUS_AUTHTOK_RECOVER_ERR = 21,
    WIT_STATUS_AUTHTOK_LOCK_BUSY = 22,
    WIT_STATUS_AUTHTOK_DISABLE_AGING = 23,
    WIT_STATUS_TRY_AGAIN = 24,
    WIT_STATUS_IGNORE = 25,
    WIT_STATUS_ABORT = 26,
    WIT_STATUS_AUTHTOK_EXPIRED = 27,
    WIT_STATUS_MODULE_UNKNOWN = 28,
    WIT_STATUS_BAD_ITEM = 29,
    WIT_STATUS_CONV_AGAIN = 30,
    WIT_STATUS_INCOMPLETE = 31,
    WIT_STATUS_COUNT = 32
};

/* WIT `session-flags` (wit/types.wit). */
#define WIT_SESSION_FLAGS_SILENT 0x1u

/* WIT `item` (wit/types.wit). */
enum wit_item {
    WIT_ITEM_SERVICE = 0,
    WIT_ITEM_USER = 1,
    WIT_ITEM_TTY = 2,
    WIT_ITEM_RHOST = 3,
    WIT_ITEM_RUSER = 4,
    WIT_ITEM_USER_PROMPT = 5,
    WIT_ITEM_XDISPLAY = 6,
    WIT_ITEM_COUNT = 7
};

/* WIT `priority` (wit/types.wit). */
enum wit_priority {
    WIT_PRIORITY_EMERG = 0,
    WIT_PRIORITY_ALERT = 1,
    WIT_PRIORITY_CRIT = 2,
    WIT_PRIORITY_ERR = 3,
    WIT_PRIORITY_WARNING = 4,
    WIT_PRIORITY_NOTICE = 5,
    WIT_PRIORITY_INFO = 6,
    WIT_PRIORITY_DEBUG = 7,
    WIT_PRIORITY_COUNT = 8
};

_Static_assert(WIT_STATUS_SUCCESS == PAM_SUCCESS, "status success is PAM_SUCCESS");
_Static_assert(WIT_STATUS_OPEN_ERR == PAM_OPEN_ERR, "status open-err is PAM_OPEN_ERR");
_Static_assert(WIT_STATUS_SYMBOL_ERR == PAM_SYMBOL_ERR, "status symbol-err is PAM_SYMBOL_ERR");
_Static_assert(WIT_STATUS_SERVICE_ERR == PAM_SERVICE_ERR, "status service-err is PAM_SERVICE_ERR");
_Static_assert(WIT_STATUS_SYSTEM_ERR == PAM_SYSTEM_ERR, "status system-err is PAM_SYSTEM_ERR");
_Static_assert(WIT_STATUS_BUF_ERR == PAM_BUF_ERR, "status buf-err is PAM_BUF_ERR");
_Static_assert(WIT_STATUS_PERM_DENIED == PAM_PERM_DENIED, "status perm-denied is PAM_PERM_DENIED");
_Static_assert(WIT_STATUS_AUTH_ERR == PAM_AUTH_ERR, "status auth-err is PAM_AUTH_ERR");
_Static_assert(WIT_STATUS_CRED_INSUFFICIENT == PAM_CRED_INSUFFICIENT, "status cred-insufficient is PAM_CRED_INSUFFICIENT");
_Static_assert(WIT_STATUS_AUTHINFO_UNAVAIL == PAM_AUTHINFO_UNAVAIL, "status authinfo-unavail is PAM_AUTHINFO_UNAVAIL");
_Static_assert(WIT_STATUS_USER_UNKNOWN == PAM_USER_UNKNOWN, "status user-unknown is PAM_USER_UNKNOWN");
_Static_assert(WIT_STATUS_MAXTRIES == PAM_MAXTRIES, "status maxtries is PAM_MAXTRIES");
_Static_assert(WIT_STATUS_NEW_AUTHTOK_REQD == PAM_NEW_AUTHTOK_REQD, "status new-authtok-reqd is PAM_NEW_AUTHTOK_REQD");
_Static_assert(WIT_STATUS_ACCT_EXPIRED == PAM_ACCT_EXPIRED, "status acct-expired is PAM_ACCT_EXPIRED");
_Static_assert(WIT_STATUS_SESSION_ERR == PAM_SESSION_ERR, "status session-err is PAM_SESSION_ERR");
_Static_assert(WIT_STATUS_CRED_UNAVAIL == PAM_CRED_UNAVAIL, "status cred-unavail is PAM_CRED_UNAVAIL");
_Static_assert(WIT_STATUS_CRED_EXPIRED == PAM_CRED_EXPIRED, "status cred-expired is PAM_CRED_EXPIRED");
_Static_assert(WIT_STATUS_CRED_ERR == PAM_CRED_ERR, "status cred-err is PAM_CRED_ERR");
_Static_assert(WIT_STATUS_NO_MODULE_DATA == PAM_NO_MODULE_DATA, "status no-module-data is PAM_NO_MODULE_DATA");
_Static_assert(WIT_STATUS_CONV_ERR == PAM_CONV_ERR, "status conv-err is PAM_CONV_ERR");
_Static_assert(WIT_STATUS_AUTHTOK_ERR == PAM_AUTHTOK_ERR, "status authtok-err is PAM_AUTHTOK_ERR");
_Static_assert(WIT_STATUS_AUTHTOK_RECOVER_ERR == PAM_AUTHTOK_RECOVERY_ERR, "status authtok-recover-err is PAM_AUTHTOK_RECOVERY_ERR");
_Static_assert(WIT_STATUS_AUTHTOK_LOCK_BUSY == PAM_AUTHTOK_LOCK_BUSY, "status authtok-lock-busy is PAM_AUTHTOK_LOCK_BUSY");
_Static_assert(WIT_STATUS_AUTHTOK_DISABLE_AGING == PAM_AUTHTOK_DISABLE_AGING, "status authtok-disable-aging is PAM_AUTHTOK_DISABLE_AGING");
_Static_assert(WIT_STATUS_TRY_AGAIN == PAM_TRY_AGAIN, "status try-again is PAM_TRY_AGAIN");
_Static_assert(WIT_STATUS_IGNORE == PAM_IGNORE, "status ignore is PAM_IGNORE");
_Static_assert(WIT_STATUS_ABORT == PAM_ABORT, "status abort is PAM_ABORT");
_Static_assert(WIT_STATUS_AUTHTOK_EXPIRED == PAM_AUTHTOK_EXPIRED, "status authtok-expired is PAM_AUTHTOK_EXPIRED");
_Static_assert(WIT_STATUS_MODULE_UNKNOWN == PAM_MODULE_UNKNOWN, "status module-unknown is PAM_MODULE_UNKNOWN");
_Static_assert(WIT_STATUS_BAD_ITEM == PAM_BAD_ITEM, "status bad-item is PAM_BAD_ITEM");
_Static_assert(WIT_STATUS_CONV_AGAIN == PAM_CONV_AGAIN, "status conv-again is PAM_CONV_AGAIN");
_Static_assert(WIT_STATUS_INCOMPLETE == PAM_INCOMPLETE, "status incomplete is PAM_INCOMPLETE");
_Static_assert(WIT_PRIORITY_EMERG == LOG_EMERG, "priority emerg is LOG_EMERG");
_Static_assert(WIT_PRIORITY_ALERT == LOG_ALERT, "priority alert is LOG_ALERT");
_Static_assert(WIT_PRIORITY_CRIT == LOG_CRIT, "priority crit is LOG_CRIT");
_Static_assert(WIT_PRIORITY_ERR == LOG_ERR, "priority err is LOG_ERR");
_Static_assert(WIT_PRIORITY_WARNING == LOG_WARNING, "priority warning is LOG_WARNING");
_Static_assert(WIT_PRIORITY_NOTICE == LOG_NOTICE, "priority notice is LOG_NOTICE");
_Static_assert(WIT_PRIORITY_INFO == LOG_INFO, "priority info is LOG_INFO");
_Static_assert(WIT_PRIORITY_DEBUG == LOG_DEBUG, "priority debug is LOG_DEBUG");

#endif /* PAMWASM_WIT_H */
