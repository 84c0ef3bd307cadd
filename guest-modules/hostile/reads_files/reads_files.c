/*
 * reads_files: a session module that uses the file system through plain
 * wasi-libc calls, to probe the sandbox's WASI grants (host/sandbox/wasi).
 * It is "hostile" only in that it asks for whatever its arguments name,
 * including files it has no grant for; the host must refuse those.
 *
 * open-session takes one action as its first argument:
 *   <path>          read the first line of <path> (fopen/fgets/fstat) and
 *                   show it with pam_info;
 *   write=<path>    create <path> and write a line to it;
 *   list=<dir>      show the sorted names in <dir> (opendir/readdir), one
 *                   pam_info with the names joined by spaces;
 *   time            (built with -DREADS_FILES_CLOCKS_RANDOM) show that
 *                   clock_gettime(CLOCK_REALTIME) and CLOCK_MONOTONIC work;
 *   random          (same build) show that getentropy() works.
 * It returns PAM_SUCCESS, or PAM_SYSTEM_ERR after a pam_error of the form
 * "<action>: <strerror(errno)>" when the system call fails.
 * close-session does nothing and returns PAM_IGNORE.
 *
 * Its build.json asks the C builder for WASI (the preview1 adapter);
 * test/sandbox/wasi.test.ts builds it, in both variants, with buildCModule.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>
#ifdef READS_FILES_CLOCKS_RANDOM
#include <time.h>
#endif

static int failed(pam_handle_t *pamh, const char *what)
{
    pam_error(pamh, "%s: %s", what, strerror(errno));
    return PAM_SYSTEM_ERR;
}

static int read_first_line(pam_handle_t *pamh, const char *path)
{
    char line[256];
    struct stat st;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return failed(pamh, path);
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        if (errno == 0)
            errno = EISDIR;
        fclose(f);
        return failed(pamh, path);
    }
    if (fgets(line, sizeof line, f) == NULL) {
        int empty = !ferror(f);
        fclose(f);
        if (empty) {
            pam_info(pamh, "%s", "");
            return PAM_SUCCESS;
        }
        return failed(pamh, path);
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    pam_info(pamh, "%s", line);
    return PAM_SUCCESS;
}

static int write_file(pam_handle_t *pamh, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd < 0)
        return failed(pamh, path);
    if (write(fd, "written\n", 8) != 8) {
        close(fd);
        return failed(pamh, path);
    }
    close(fd);
    pam_info(pamh, "wrote %s", path);
    return PAM_SUCCESS;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(pam_handle_t *pamh, const char *path)
{
    char *names[64], out[1024] = "";
    size_t n = 0, i;
    struct dirent *e;
    DIR *d = opendir(path);

    if (d == NULL)
        return failed(pamh, path);
    errno = 0;
    while ((e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names[n++] = strdup(e->d_name);
    if (errno != 0) {
        closedir(d);
        return failed(pamh, path);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (i = 0; i < n; i++) {
        if (i > 0)
            strncat(out, " ", sizeof out - strlen(out) - 1);
        strncat(out, names[i], sizeof out - strlen(out) - 1);
        free(names[i]);
    }
    pam_info(pamh, "%s", out);
    return PAM_SUCCESS;
}

#ifdef READS_FILES_CLOCKS_RANDOM
static int show_time(pam_handle_t *pamh)
{
    struct timespec wall, mono1, mono2;

    if (clock_gettime(CLOCK_REALTIME, &wall) != 0 ||
        clock_gettime(CLOCK_MONOTONIC, &mono1) != 0 ||
        clock_gettime(CLOCK_MONOTONIC, &mono2) != 0)
        return failed(pamh, "time");
    pam_info(pamh, "time %lld %s", (long long)wall.tv_sec,
             (mono2.tv_sec > mono1.tv_sec ||
              (mono2.tv_sec == mono1.tv_sec && mono2.tv_nsec >= mono1.tv_nsec)) ? "monotonic" : "backwards");
    return PAM_SUCCESS;
}

static int show_random(pam_handle_t *pamh)
{
    unsigned char buf[16];
    unsigned nonzero = 0;
    size_t i;

    if (getentropy(buf, sizeof buf) != 0)
        return failed(pamh, "random");
    for (i = 0; i < sizeof buf; i++)
        nonzero += buf[i] != 0;
    pam_info(pamh, "random %s", nonzero > 0 ? "ok" : "zeros");
    return PAM_SUCCESS;
}
#endif

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    if (argc < 1) {
        pam_error(pamh, "usage: <path> | write=<path> | list=<dir> | time | random");
        return PAM_SERVICE_ERR;
    }
    errno = 0;
    if (strncmp(argv[0], "write=", 6) == 0)
        return write_file(pamh, argv[0] + 6);
    if (strncmp(argv[0], "list=", 5) == 0)
        return list_dir(pamh, argv[0] + 5);
#ifdef READS_FILES_CLOCKS_RANDOM
    if (strcmp(argv[0], "time") == 0)
        return show_time(pamh);
    if (strcmp(argv[0], "random") == 0)
        return show_random(pamh);
#endif
    return read_first_line(pamh, argv[0]);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_IGNORE;
}
