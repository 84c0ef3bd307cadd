/*
 * trap: open-session traps, in the way its first argument names:
 *   unreachable (default)  __builtin_trap(), wasm's `unreachable`;
 *   oob                    a load far past the end of linear memory;
 *   divzero                an integer division by zero;
 *   nullcall               a call through a NULL function pointer.
 * Each ends the call with a WebAssembly trap the module cannot catch.
 * close-session returns PAM_SUCCESS (a sandbox that works never calls it on
 * the trapped instance).
 */
#include <string.h>
#include <security/pam_modules.h>

/* volatile: the compiler must not see through these and fold the trap away. */
static volatile unsigned int far_address = 0xfffffff0u;
static volatile int zero, seven = 7;
static int (*volatile no_function)(void);

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *how = argc > 0 ? argv[0] : "unreachable";

    (void)pamh; (void)flags;
    if (strcmp(how, "oob") == 0)
        return *(volatile int *)(unsigned long)far_address;
    if (strcmp(how, "divzero") == 0)
        return seven / zero;
    if (strcmp(how, "nullcall") == 0)
        return no_function();
    __builtin_trap();
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
