/*
 * pam_datatest: a test module for pamwasm's module data (not a Linux-PAM
 * module). It stores a value in both kinds of module data when a session
 * opens and reports what it finds when the session closes.
 *
 * open_session [value=<text>]   (default value: "pam_datatest")
 *   pam_set_data("pam_datatest", ...) twice, so the first entry's cleanup
 *   runs with PAM_DATA_REPLACE, then pamwasm_set_data_bytes("pam_datatest",
 *   <text>). Returns PAM_SUCCESS, or the failing call's code.
 * close_session [delete]
 *   Reads both back and says with pam_info
 *     "pointer=<text|(none)> bytes=<text|(none)> replaced=<n> status=<hex>"
 *   (replaced: how many cleanups ran; status: the last cleanup's
 *   error_status). With `delete`, the bytes are removed afterwards.
 *   Returns PAM_SUCCESS when the bytes were found, else PAM_NO_MODULE_DATA:
 *   pointer data lives in this instance only, bytes outlive it.
 */
#include <stdlib.h>
#include <string.h>
#include <pamwasm.h>

#define DATA_NAME "pam_datatest"

static int cleanups_run;
static int last_cleanup_status;

/* pam_set_data's cleanup: frees the value; counts the call so close_session
 * can show that replacing ran it with PAM_DATA_REPLACE. */
static void cleanup(pam_handle_t *pamh, void *data, int error_status)
{
    (void)pamh;
    cleanups_run++;
    last_cleanup_status = error_status;
    free(data);
}

static const char *arg_value(int argc, const char **argv, const char *key, const char *fallback)
{
    size_t n = strlen(key);
    int i;

    for (i = 0; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return fallback;
}

static int has_arg(int argc, const char **argv, const char *word)
{
    int i;

    for (i = 0; i < argc; i++)
        if (strcmp(argv[i], word) == 0)
            return 1;
    return 0;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *value = arg_value(argc, argv, "value", "pam_datatest");
    char *first = strdup("placeholder"), *second = strdup(value);
    int status;

    (void)flags;
    if (first == NULL || second == NULL) {
        free(first);
        free(second);
        return PAM_BUF_ERR;
    }
    status = pam_set_data(pamh, DATA_NAME, first, cleanup);
    if (status != PAM_SUCCESS)
        return status;
    status = pam_set_data(pamh, DATA_NAME, second, cleanup);
    if (status != PAM_SUCCESS)
        return status;
    return pamwasm_set_data_bytes(pamh, DATA_NAME, value, strlen(value));
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const void *pointer = NULL, *bytes = NULL;
    size_t nbytes = 0;
    int have_pointer, have_bytes;

    (void)flags;
    have_pointer = pam_get_data(pamh, DATA_NAME, &pointer) == PAM_SUCCESS;
    have_bytes = pamwasm_get_data_bytes(pamh, DATA_NAME, &bytes, &nbytes) == PAM_SUCCESS;

    pam_info(pamh, "pointer=%s bytes=%.*s replaced=%d status=%#x",
             have_pointer && pointer ? (const char *)pointer : "(none)",
             have_bytes ? (int)nbytes : 6, have_bytes ? (const char *)bytes : "(none)",
             cleanups_run, (unsigned)last_cleanup_status);

    if (has_arg(argc, argv, "delete"))
        (void)pamwasm_delete_data_bytes(pamh, DATA_NAME);
    return have_bytes ? PAM_SUCCESS : PAM_NO_MODULE_DATA;
}
