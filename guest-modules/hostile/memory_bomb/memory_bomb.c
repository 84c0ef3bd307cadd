/*
 * memory_bomb: open-session takes all the memory it can get and touches
 * every page of it, then keeps asking: first by `memory.grow` straight to
 * 4 GiB, then 1 MiB mallocs until one fails, then smaller and smaller ones
 * down to one byte, many times over. It gives back its first block (so that
 * formatting a message has room), reports what it got with pam_info
 * (`memory_bomb: got <N> MiB, memory is <M> MiB`) and returns PAM_BUF_ERR:
 * a module held to its memory limit fails cleanly. close-session bombs
 * again, keeps it all and returns PAM_BUF_ERR (if the host can still pass
 * it its arguments: the SDK's glue traps when it cannot allocate them).
 *
 * Argument `retries=<n>`: how often to go round the small mallocs after the
 * first failure (default 1000).
 */
#include <stdlib.h>
#include <string.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#define MIB (1024 * 1024)
#define PAGE 65536

/* Kept in globals so the compiler cannot drop the writes. */
static volatile unsigned char *volatile first_block, *volatile last_block;

static size_t grab(size_t size)
{
    unsigned char *p = malloc(size);
    size_t i;

    if (p == NULL)
        return 0;
    /* Touch every page: reserved memory is not resident memory. */
    for (i = 0; i < size; i += 4096)
        p[i] = (unsigned char)i | 1;
    p[size - 1] = 1;
    if (first_block == NULL)
        first_block = p;
    last_block = p;
    return size;
}

static size_t bomb(int retries)
{
    size_t got = 0, size;
    int round;

    /* Straight to the top of the 32-bit address space (-1 when refused).
     * Pages granted here are outside malloc's heap and stay untouched. */
    (void)__builtin_wasm_memory_grow(0, 65536 - __builtin_wasm_memory_size(0));
    while ((size = grab(MIB)) > 0)
        got += size;
    for (round = 0; round < retries; round++)
        for (size = MIB / 2; size > 0; size /= 2)
            got += grab(size);
    return got;
}

static int retries_arg(int argc, const char **argv)
{
    int i;

    for (i = 0; i < argc; i++)
        if (strncmp(argv[i], "retries=", 8) == 0)
            return atoi(argv[i] + 8);
    return 1000;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    size_t got = bomb(retries_arg(argc, argv));

    (void)flags;
    free((void *)first_block);
    first_block = NULL;
    pam_info(pamh, "memory_bomb: got %zu MiB, memory is %zu MiB",
             got / MIB, __builtin_wasm_memory_size(0) * PAGE / MIB);
    return PAM_BUF_ERR;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags;
    bomb(retries_arg(argc, argv) > 0 ? 1 : 0);
    return PAM_BUF_ERR;
}
