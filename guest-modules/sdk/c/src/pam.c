/*
 * The Linux-PAM module calls on top of the world's imports: items,
 * pam_get_user, the PAM environment, the conversation and pam_syslog.
 * Behaviour follows libpam 1.5.2 (pam_item.c, pam_env.c, pam_vprompt.c,
 * pam_syslog.c, pam_strerror.c); differences are noted where they occur.
 */
#include "glue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>


static int converse(int num_msg, const struct pam_message **msg,
                    struct pam_response **resp, void *appdata_ptr);

struct pam_handle __pamwasm_handle;

/* ----- Items ----- */

/*
 * Asks the host each time, so a change the application made between calls
 * is seen, but hands out the same pointer while the value is unchanged:
 * libpam's item pointers stay valid until the item is set again.
 */
static const char *item_string(struct pam_handle *h, enum wit_item which)
{
    char *value = __pamwasm_host_get_item(which);
    char **kept = &h->items[which];

    if (value != NULL && *kept != NULL && strcmp(value, *kept) == 0) {
        free(value);
        return *kept;
    }
    free(*kept);
    *kept = value;
    return value;
}

int pam_get_item(const pam_handle_t *pamh, int item_type, const void **item)
{
    struct pam_handle *h = (struct pam_handle *)pamh;

    if (h == NULL)
        return PAM_SYSTEM_ERR;
    if (item == NULL) {
        pam_syslog(pamh, LOG_ERR, "pam_get_item: nowhere to place requested item");
        return PAM_PERM_DENIED;
    }
    *item = NULL;

    switch (item_type) {
    case PAM_SERVICE:     *item = item_string(h, WIT_ITEM_SERVICE); break;
    case PAM_TTY:         *item = item_string(h, WIT_ITEM_TTY); break;
    case PAM_RHOST:       *item = item_string(h, WIT_ITEM_RHOST); break;
    case PAM_RUSER:       *item = item_string(h, WIT_ITEM_RUSER); break;
    case PAM_USER_PROMPT: *item = item_string(h, WIT_ITEM_USER_PROMPT); break;
    case PAM_XDISPLAY:    *item = item_string(h, WIT_ITEM_XDISPLAY); break;
    case PAM_USER:
        *item = item_string(h, WIT_ITEM_USER);
        if (*item == NULL)
            *item = h->prompted_user;
        break;
    case PAM_CONV:
        /* Filled in on first use, so a module that never converses does
         * not link (nor import) the conversation. */
        h->conv.conv = converse;
        *item = &h->conv;
        break;
    case PAM_XAUTHDATA:
        /* libpam hands out its (here always empty) struct, never NULL. */
        *item = &h->xauth;
        break;
    case PAM_FAIL_DELAY:
    case PAM_AUTHTOK_TYPE:
        /* Items the application could set but the world does not carry:
         * they read as never set. */
        break;
    case PAM_AUTHTOK:
    case PAM_OLDAUTHTOK:
        /* libpam gives these only to modules; session modules here never
         * see passwords, so they answer as libpam does for applications. */
        return PAM_BAD_ITEM;
    default:
        return PAM_BAD_ITEM;
    }
    return PAM_SUCCESS;
}

/*
 * As libpam 1.5.2: the PAM_USER item if set, else one PAM_PROMPT_ECHO_ON
 * question (prompt, else PAM_USER_PROMPT, else "login:"). The world has no
 * set-item, so a name obtained by asking is kept in this instance only:
 * this module's later pam_get_item(PAM_USER) returns it, the application's
 * PAM_USER stays unset. A failed question is remembered and returned again,
 * as libpam's former.fail_user.
 */
int pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt)
{
    const void *item;
    const char *use_prompt;
    char *resp = NULL;
    int retval;

    if (pamh == NULL)
        return PAM_SYSTEM_ERR;
    if (user == NULL) {
        pam_syslog(pamh, LOG_ERR, "pam_get_user: nowhere to record username");
        return PAM_PERM_DENIED;
    }
    *user = NULL;

    if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != NULL) {
        *user = item;
        return PAM_SUCCESS;
    }
    if (pamh->fail_user != PAM_SUCCESS)
        return pamh->fail_user;

    use_prompt = prompt;
    if (use_prompt == NULL
        && (pam_get_item(pamh, PAM_USER_PROMPT, &item) != PAM_SUCCESS
            || (use_prompt = item) == NULL))
        use_prompt = "login:";

    retval = __pamwasm_converse_one(PAM_PROMPT_ECHO_ON, use_prompt, &resp);
    if (retval == PAM_CONV_AGAIN) {
        /* libpam saves the prompt to resume; here the question is simply
         * asked again on the next call. */
    } else if (resp == NULL) {
        retval = PAM_CONV_ERR;
        pamh->fail_user = retval;
    } else if (retval == PAM_SUCCESS) {
        free(pamh->prompted_user);
        pamh->prompted_user = resp;
        resp = NULL;
        *user = pamh->prompted_user;
    } else
        pamh->fail_user = retval;

    if (resp != NULL) {
        memset(resp, 0, strlen(resp));
        free(resp);
    }
    return retval;
}

/* ----- PAM environment ----- */

/*
 * The pointer stays valid while the variable keeps its value, as the one
 * libpam returns points into its own environment list.
 */
const char *pam_getenv(pam_handle_t *pamh, const char *name)
{
    struct kept_string **link, *k;
    char *value;

    if (pamh == NULL || name == NULL)
        return NULL;
    value = __pamwasm_host_get_env(name);

    for (link = &pamh->env; (k = *link) != NULL; link = &k->next)
        if (strcmp(k->name, name) == 0)
            break;
    if (k != NULL && value != NULL && strcmp(k->value, value) == 0) {
        free(value);
        return k->value;
    }
    if (k != NULL) {
        *link = k->next;
        free(k->name);
        free(k->value);
        free(k);
    }
    if (value == NULL)
        return NULL;
    k = malloc(sizeof(*k));
    if (k == NULL || (k->name = strdup(name)) == NULL) {
        free(k);
        free(value);
        return NULL;
    }
    k->value = value;
    k->next = pamh->env;
    pamh->env = k;
    return value;
}

/* The host implements pam_putenv's rules (NAME=value, NAME=, NAME). */
int pam_putenv(pam_handle_t *pamh, const char *name_value)
{
    if (pamh == NULL)
        return PAM_SYSTEM_ERR;
    if (name_value == NULL)
        return PAM_PERM_DENIED;
    return __pamwasm_host_put_env(name_value);
}

/* A malloc'd copy the caller frees, strings and array, as with libpam. */
char **pam_getenvlist(pam_handle_t *pamh)
{
    if (pamh == NULL)
        return NULL;
    return __pamwasm_host_list_env();
}

/* ----- Conversation ----- */

int __pamwasm_converse_one(int msg_style, const char *text, char **resp)
{
    *resp = NULL;
    switch (msg_style) {
    case PAM_PROMPT_ECHO_OFF:
        return __pamwasm_host_prompt(0, text, resp);
    case PAM_PROMPT_ECHO_ON:
        return __pamwasm_host_prompt(1, text, resp);
    case PAM_ERROR_MSG:
        return __pamwasm_host_error(text);
    case PAM_TEXT_INFO:
        return __pamwasm_host_info(text);
    default:
        /* PAM_RADIO_TYPE, PAM_BINARY_PROMPT: no such question in the world. */
        return PAM_CONV_ERR;
    }
}

/*
 * The handle's PAM_CONV, for modules that call conv() themselves. It acts
 * as a Linux-PAM application's conversation function: all messages or
 * nothing, and on failure no responses (*resp stays NULL).
 */
static int converse(int num_msg, const struct pam_message **msg,
                    struct pam_response **resp, void *appdata_ptr)
{
    struct pam_response *reply;
    int i, j, retval;

    (void)appdata_ptr;
    if (resp == NULL || msg == NULL || num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    *resp = NULL;
    reply = calloc((size_t)num_msg, sizeof(*reply));
    if (reply == NULL)
        return PAM_BUF_ERR;

    for (i = 0; i < num_msg; i++) {
        retval = __pamwasm_converse_one(msg[i]->msg_style, msg[i]->msg, &reply[i].resp);
        if (retval != PAM_SUCCESS) {
            for (j = 0; j <= i; j++)
                if (reply[j].resp != NULL) {
                    memset(reply[j].resp, 0, strlen(reply[j].resp));
                    free(reply[j].resp);
                }
            free(reply);
            return retval;
        }
    }
    *resp = reply;
    return PAM_SUCCESS;
}

/* As libpam's pam_vprompt, message texts and all. */
int pam_vprompt(pam_handle_t *pamh, int style, char **response,
                const char *fmt, va_list args)
{
    struct pam_response *pam_resp = NULL;
    struct pam_message msg;
    const struct pam_message *pmsg = &msg;
    const void *convp;
    const struct pam_conv *conv;
    char *msgbuf;
    int retval;

    if (response)
        *response = NULL;
    retval = pam_get_item(pamh, PAM_CONV, &convp);
    if (retval != PAM_SUCCESS)
        return retval;
    conv = convp;

    if (vasprintf(&msgbuf, fmt, args) < 0) {
        pam_syslog(pamh, LOG_ERR, "vasprintf: %m");
        return PAM_BUF_ERR;
    }
    msg.msg_style = style;
    msg.msg = msgbuf;

    retval = conv->conv(1, &pmsg, &pam_resp, conv->appdata_ptr);
    if (retval != PAM_SUCCESS && pam_resp != NULL)
        pam_syslog(pamh, LOG_WARNING,
                   "unexpected response from failed conversation function");
    if (response)
        *response = pam_resp == NULL ? NULL : pam_resp->resp;
    else if (pam_resp && pam_resp->resp) {
        memset(pam_resp->resp, 0, strlen(pam_resp->resp));
        free(pam_resp->resp);
    }
    memset(msgbuf, 0, strlen(msgbuf));
    free(msgbuf);
    free(pam_resp);
    if (retval != PAM_SUCCESS)
        pam_syslog(pamh, LOG_ERR, "conversation failed");
    return retval;
}

int pam_prompt(pam_handle_t *pamh, int style, char **response, const char *fmt, ...)
{
    va_list args;
    int retval;

    va_start(args, fmt);
    retval = pam_vprompt(pamh, style, response, fmt, args);
    va_end(args);
    return retval;
}

/* ----- Logging ----- */

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
