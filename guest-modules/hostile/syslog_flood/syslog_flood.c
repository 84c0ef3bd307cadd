/*
 * syslog_flood: open-session writes one pam_syslog line of 1 MB, then a
 * million short ones (`count=<n>`); it cannot tell whether they were kept
 * (pam_syslog returns nothing), and returns PAM_SUCCESS. The host's import
 * limits (bytes per line, lines per call) decide what is logged.
 * close-session returns PAM_SUCCESS.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    long count = 1000000, i;
    char *line;

    (void)flags;
    if (argc > 0 && strncmp(argv[0], "count=", 6) == 0)
        count = atol(argv[0] + 6);
    line = malloc(1024 * 1024 + 1);
    if (line != NULL) {
        memset(line, 'L', 1024 * 1024);
        line[1024 * 1024] = '\0';
        pam_syslog(pamh, LOG_ERR, "%s", line);
        free(line);
    }
    for (i = 0; i < count; i++)
        pam_syslog(pamh, LOG_NOTICE, "syslog_flood: line %ld", i);
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
