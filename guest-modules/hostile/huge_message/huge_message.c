/*
 * huge_message: open-session sends the conversation more than it should
 * take: one ~16 MB pam_info, one ~16 MB pam_error, then a flood of small
 * messages (`count=<n>`, default 10000) and one prompt of ~16 MB. It
 * ignores every refusal and returns PAM_SUCCESS; the host's import limits
 * (message size, messages per call) decide what reaches the user.
 * Argument `bytes=<n>`: the size of the big messages (default 16000000).
 * close-session returns PAM_SUCCESS.
 */
#include <stdlib.h>
#include <string.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

static long arg(int argc, const char **argv, const char *name, long fallback)
{
    size_t n = strlen(name);
    int i;

    for (i = 0; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return atol(argv[i] + n + 1);
    return fallback;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    long bytes = arg(argc, argv, "bytes", 16000000), count = arg(argc, argv, "count", 10000), i;
    char *big = malloc((size_t)bytes + 1), *answer = NULL;

    (void)flags;
    if (big != NULL) {
        memset(big, 'A', (size_t)bytes);
        big[bytes] = '\0';
        (void)pam_info(pamh, "%s", big);
        (void)pam_error(pamh, "%s", big);
    }
    for (i = 0; i < count; i++)
        (void)pam_info(pamh, "huge_message: small message %ld", i);
    if (big != NULL) {
        (void)pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer, "%s", big);
        free(answer);
        free(big);
    }
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
