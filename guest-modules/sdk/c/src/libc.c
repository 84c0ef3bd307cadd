/*
 * Keeps wasi-libc's stdio from importing WASI.
 *
 * musl's formatted output (snprintf, vasprintf, which pam_syslog and
 * pam_prompt use) shares vfprintf with the real streams, and that drags in
 * stdin/stdout/stderr and their fd_write/fd_seek/fd_close imports, which the
 * session-module world does not have. Defining the three stream hooks and
 * the exit flush here (and stdout's isatty check) satisfies those references, so the archive members
 * that import WASI are never linked.
 *
 * The effect for a module: string formatting works as usual; writing to
 * stdout or stderr goes nowhere (a module's voice is pam_syslog and the
 * conversation). Functions that need the system for real (fopen, time,
 * exit, ...) still pull WASI imports in, and the builder rejects the module
 * naming them.
 *
 * The prototypes are musl's internal ones (src/internal/stdio_impl.h) and
 * must match exactly: wasm-ld replaces a mismatched one with a trap.
 *
 * A module that is granted WASI (build.json {"wasi": true}: linked with
 * the preview1 adapter) wants the real streams, whose fclose and fwrite
 * these would silence: host/build compiles the SDK for it with
 * -DPAMWASM_WASI, which leaves wasi-libc's own in place.
 */
#ifndef PAMWASM_WASI
#include <stddef.h>
#include <stdio.h>

size_t __stdio_write(FILE *f, const unsigned char *buf, size_t len);
size_t __stdout_write(FILE *f, const unsigned char *buf, size_t len);
long long __stdio_seek(FILE *f, long long off, int whence);
int __stdio_close(FILE *f);
void __stdio_exit_needed(void);

size_t __stdio_write(FILE *f, const unsigned char *buf, size_t len)
{
    (void)f; (void)buf;
    /* Claim success so a writer does not retry or set an error. */
    return len;
}

/* stdout's own hook (it asks isatty through WASI first). */
size_t __stdout_write(FILE *f, const unsigned char *buf, size_t len)
{
    return __stdio_write(f, buf, len);
}

long long __stdio_seek(FILE *f, long long off, int whence)
{
    (void)f; (void)off; (void)whence;
    return -1;
}

int __stdio_close(FILE *f)
{
    (void)f;
    return 0;
}

void __stdio_exit_needed(void)
{
}

#endif /* PAMWASM_WASI */
