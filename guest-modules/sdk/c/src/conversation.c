/*
 * The conversation (PAM_CONV, pam_prompt and so pam_info/pam_error) on top
 * of the world's `conversation` interface, as libpam 1.5.2's
 * pam_vprompt.c and a Linux-PAM application's conv() behave.
 */
#include "glue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>

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
int __pamwasm_converse(int num_msg, const struct pam_message **msg,
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
