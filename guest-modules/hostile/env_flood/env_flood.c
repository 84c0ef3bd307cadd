/*
 * env_flood: open-session puts 100000 variables into the PAM environment
 * (`count=<n>`), `FLOOD_<i>=<i>`, carrying on past every refusal, then one
 * variable of 1 MB. It shows how many pam_putenv calls succeeded
 * (`env_flood: <k> of <n> set`) and returns PAM_SUCCESS. The host's import
 * limits (entries and bytes of the whole environment) decide what is kept.
 * close-session returns PAM_SUCCESS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    long count = 100000, set = 0, i;
    char name_value[64], *big;

    (void)flags;
    if (argc > 0 && strncmp(argv[0], "count=", 6) == 0)
        count = atol(argv[0] + 6);
    for (i = 0; i < count; i++) {
        snprintf(name_value, sizeof name_value, "FLOOD_%ld=%ld", i, i);
        if (pam_putenv(pamh, name_value) == PAM_SUCCESS)
            set++;
    }
    big = malloc(1024 * 1024 + 16);
    if (big != NULL) {
        strcpy(big, "FLOOD_BIG=");
        memset(big + 10, 'B', 1024 * 1024);
        big[10 + 1024 * 1024] = '\0';
        if (pam_putenv(pamh, big) == PAM_SUCCESS)
            set++;
        free(big);
    }
    pam_info(pamh, "env_flood: %ld of %ld set", set, count + 1);
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
