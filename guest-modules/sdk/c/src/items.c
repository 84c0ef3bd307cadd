/*
 * pam_get_item and pam_get_user on top of the world's `items` interface,
 * as libpam 1.5.2's pam_item.c behaves for a module.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>

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
        h->conv.conv = __pamwasm_converse;
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
