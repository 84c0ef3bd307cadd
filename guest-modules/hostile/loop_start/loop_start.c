/*
 * loop_start: start-up code that never returns. A static constructor spins
 * forever; the hooks themselves would succeed.
 *
 * When it runs: at instantiation. The module exports `_initialize` (what
 * wasi-libc's reactor start file, crt1-reactor.o, defines: run the static
 * constructors), and wit-component makes an exported `_initialize` the
 * component's start-up call, which jco's glue makes inside instantiate(),
 * before any hook. (Without `_initialize`, the C SDK would run constructors
 * on the first hook call instead.) The host instantiates a line's module on
 * the line's first call, under that call's time limit.
 */
#include <security/pam_modules.h>

static volatile unsigned long spins;

__attribute__((constructor)) static void never_returns(void)
{
    for (;;)
        spins++;
}

/* Synthesized by wasm-ld: runs the static constructors. */
extern void __wasm_call_ctors(void);

__attribute__((export_name("_initialize"))) void loop_start_initialize(void)
{
    __wasm_call_ctors();
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
