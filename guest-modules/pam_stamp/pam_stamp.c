/*
 * pam_stamp: a reference module for module data that must outlive the
 * process that opened the session (pam_exec's close process, `pamwasm
 * recover` after a crash). Open stores a stamp, close reads it back.
 *
 * open_session token=<text>
 *   Stores "token=<text> user=<PAM_USER> tty=<PAM_TTY>" as module data with
 *   pamwasm_set_data_bytes (an unset item shows as "(null)", as pam_echo
 *   shows it). Returns PAM_SUCCESS, PAM_SERVICE_ERR without token= (a
 *   configuration error, logged), or the failing call's code.
 * close_session
 *   Shows "pam_stamp: <stamp>" with pam_info (nothing under PAM_SILENT) and
 *   returns PAM_SUCCESS; without a stamp it returns PAM_NO_MODULE_DATA, as
 *   pam_get_data does for data that was never set.
 *
 * Why the byte API and not pam_set_data: pam_set_data keeps a pointer into
 * this instance's memory, which is gone when close runs in another process
 * or on a fresh instance; the bytes are kept by the host (the world's `data`
 * interface), saved with the session and handed back at close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <pamwasm.h>

#define DATA_NAME "pam_stamp"

static const char *arg_value(int argc, const char **argv, const char *key)
{
    size_t n = strlen(key);
    int i;

    for (i = 0; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

static const char *item_or_null(pam_handle_t *pamh, int item)
{
    const void *value = NULL;

    if (pam_get_item(pamh, item, &value) != PAM_SUCCESS || value == NULL)
        return "(null)";
    return value;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *token = arg_value(argc, argv, "token");
    char *stamp = NULL;
    int n, status;

    (void)flags;
    if (token == NULL) {
        pam_syslog(pamh, LOG_ERR, "no token= argument: nothing to stamp");
        return PAM_SERVICE_ERR;
    }
    n = asprintf(&stamp, "token=%s user=%s tty=%s", token,
                 item_or_null(pamh, PAM_USER), item_or_null(pamh, PAM_TTY));
    if (n < 0)
        return PAM_BUF_ERR;
    status = pamwasm_set_data_bytes(pamh, DATA_NAME, stamp, (size_t)n);
    free(stamp);
    return status;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const void *stamp = NULL;
    size_t len = 0;

    (void)argc;
    (void)argv;
    if (pamwasm_get_data_bytes(pamh, DATA_NAME, &stamp, &len) != PAM_SUCCESS) {
        pam_syslog(pamh, LOG_NOTICE, "no stamp: the session was not opened with this stack line");
        return PAM_NO_MODULE_DATA;
    }
    if (!(flags & PAM_SILENT))
        (void)pam_info(pamh, "pam_stamp: %.*s", (int)len, (const char *)stamp);
    return PAM_SUCCESS;
}
