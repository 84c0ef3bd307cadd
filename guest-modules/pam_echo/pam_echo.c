/*
 * pam_echo: the session hooks of Linux-PAM 1.5.2's pam_echo.so. Opening a
 * session shows the arguments, joined by spaces, as one informational
 * message (pam_info) after replacing
 *   %u user   %s service   %t tty   %H rhost   %U ruser   %h local host name
 * (any other %x becomes x; a trailing % stays). An unset item shows as
 * "(null)". With PAM_SILENT nothing is shown and the result is PAM_IGNORE.
 * Closing a session does nothing and returns PAM_IGNORE.
 *
 * Two things differ from a native host, by the sandbox's nature, and take
 * the paths the real module takes when the system call fails:
 *  - %h: the module has no host name to ask for, so it shows "(null)", as
 *    pam_echo.c does when gethostname() fails;
 *  - file=<path>: the module has no file system, so the file cannot be
 *    opened: it logs "Cannot open <path>: Permission denied" at LOG_ERR
 *    and returns PAM_IGNORE, as pam_echo.c does when open() fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

/* pam_echo.c's marker for "local host name", which is not a PAM item. */
#define ITEM_LOCALHOST (-2)

/* The sandbox's gethostname(): there is no host name to be had. */
static const char *local_host_name(void)
{
    return NULL;
}

static int replace_and_print(pam_handle_t *pamh, const char *mesg)
{
    /* pam_echo.c sizes the output so each expansion has PAM_MAX_MSG_SIZE
     * bytes of room, and silently truncates past that. */
    size_t length = strlen(mesg) + PAM_MAX_MSG_SIZE;
    const char *p, *q;
    const void *str;
    char *output;
    size_t len;
    int item;

    output = malloc(length);
    if (output == NULL) {
        pam_syslog(pamh, LOG_CRIT, "running out of memory");
        return PAM_BUF_ERR;
    }

    for (p = mesg, len = 0; *p != '\0' && len < length - 1; ++p) {
        if (*p != '%' || p[1] == '\0') {
            output[len++] = *p;
            continue;
        }
        switch (*++p) {
        case 'H': item = PAM_RHOST; break;
        case 'h': item = ITEM_LOCALHOST; break;
        case 's': item = PAM_SERVICE; break;
        case 't': item = PAM_TTY; break;
        case 'U': item = PAM_RUSER; break;
        case 'u': item = PAM_USER; break;
        default:
            output[len++] = *p;
            continue;
        }
        if (item == ITEM_LOCALHOST)
            str = local_host_name();
        else if (pam_get_item(pamh, item, &str) != PAM_SUCCESS)
            str = NULL;
        if (str == NULL)
            str = "(null)";
        for (q = str; *q != '\0' && len < length - 1; ++q)
            output[len++] = *q;
    }
    output[len] = '\0';

    /* The conversation's answer does not change the result, as in pam_echo.c. */
    (void)pam_info(pamh, "%s", output);
    free(output);
    return PAM_SUCCESS;
}

static int pam_echo(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *file = NULL;
    int i;

    if (flags & PAM_SILENT)
        return PAM_IGNORE;

    /* The last file= argument wins, as in pam_echo.c. */
    for (i = 0; i < argc; ++i)
        if (strncmp(argv[i], "file=", 5) == 0)
            file = argv[i] + 5;

    if (file == NULL || file[0] == '\0') {
        /* The message is every argument (file= included) joined by single
         * spaces and cut at PAM_MAX_MSG_SIZE - 1 bytes. */
        char msg[PAM_MAX_MSG_SIZE];
        const char *p;
        size_t len;

        for (i = 0, len = 0; i < argc && len < sizeof(msg) - 1; ++i) {
            if (i > 0)
                msg[len++] = ' ';
            for (p = argv[i]; *p != '\0' && len < sizeof(msg) - 1; ++p)
                msg[len++] = *p;
        }
        msg[len] = '\0';
        return replace_and_print(pamh, msg);
    }

    /* open(file) is refused in the sandbox: report it as pam_echo.c does. */
    errno = EACCES;
    pam_syslog(pamh, LOG_ERR, "Cannot open %s: %m", file);
    return PAM_IGNORE;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return pam_echo(pamh, flags, argc, argv);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_IGNORE;
}
