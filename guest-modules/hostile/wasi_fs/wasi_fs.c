/*
 * wasi_fs: a session module that reads files through plain wasi-libc calls
 * (fopen/fgets): open-session shows the first line of the file its first
 * argument names (default /etc/shadow) with pam_info, or a pam_error with
 * strerror, and returns PAM_SUCCESS or PAM_SYSTEM_ERR. close-session
 * returns PAM_SUCCESS.
 *
 * Built with "wasi": true (build.json): wasi-libc's file calls stay, and
 * the preview1 adapter turns them into WASI 0.2 imports (wasi:filesystem,
 * wasi:io, wasi:cli). Without a `read=` grant the host refuses to load it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *path = argc > 0 ? argv[0] : "/etc/shadow";
    char line[256];
    FILE *f;

    (void)flags;
    f = fopen(path, "r");
    if (f == NULL) {
        pam_error(pamh, "%s: %s", path, strerror(errno));
        return PAM_SYSTEM_ERR;
    }
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    pam_info(pamh, "%s", line);
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
