/*
 * recursion: open-session recurses without end. The calls go through a
 * function pointer the compiler cannot see through, so no tail-call or
 * accumulator rewriting turns the recursion into a loop.
 *
 * Argument (first one):
 *   wasm (default)  frames hold only wasm locals: the engine's own call
 *                   stack overflows (V8: RangeError, "Maximum call stack
 *                   size exceeded");
 *   memory          every frame also takes 1 KiB of the C stack in linear
 *                   memory (64 KiB): that stack runs out first, and the
 *                   next store below address 0 traps (the SDK links the
 *                   stack first, below the module's data).
 * close-session returns PAM_SUCCESS.
 */
#include <string.h>
#include <security/pam_modules.h>

static int deeper(int depth);
static int deeper_in_memory(int depth);

static int (*volatile next)(int) = deeper;
static int (*volatile next_in_memory)(int) = deeper_in_memory;

static int deeper(int depth)
{
    return next(depth + 1) + depth;
}

static int deeper_in_memory(int depth)
{
    volatile char frame[1024];

    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    return next_in_memory(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags;
    if (argc > 0 && strcmp(argv[0], "memory") == 0)
        return next_in_memory(0);
    return next(0);
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
