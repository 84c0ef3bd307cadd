/*
 * The component model's canonical ABI for the pamwasm:session world,
 * written by hand (CanonicalABI.md: "Flattening", "Lifting and Lowering").
 *
 * Core exports
 *   open-session, close-session : (i32 flags, i32 argv_ptr, i32 argv_len) -> i32
 *       flags is the `session-flags` bit set (bit 0 = silent); argv is a
 *       list<string>: argv_len (ptr, len) pairs of 8 bytes. The result is
 *       the `status` case, which is the Linux-PAM number.
 *   cabi_realloc : (old_ptr, old_size, align, new_size) -> ptr
 *   memory (by wasm-ld)
 * No post-return functions: the results are plain enums, and the argv
 * buffers the host wrote (callee-owned, as lowered arguments are) are
 * freed before the export returns.
 *
 * Core imports, module "pamwasm:session/<interface>@<version>" (wit.h): one per WIT
 * function. Results that flatten to more than one value (option<string>,
 * option<list<u8>>, list<string>, result<string, status>) are written by
 * the host to a return area whose address is the last argument; strings
 * and lists inside it are allocated by the host through cabi_realloc and
 * are ours to free.
 *
 * Strings passed to the host must be UTF-8 (the ABI's string encoding);
 * utf8.c replaces bytes that are not by U+FFFD, so a module logging raw
 * bytes gets a readable line instead of a trap.
 *
 * Running out of memory inside this glue traps: the host turns a trap into a
 * fail-closed PAM code, which is safer than inventing an empty item.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>


#define IMPORT(iface, fn) \
    __attribute__((import_module(PAMWASM_WIT_PACKAGE "/" iface "@" PAMWASM_WIT_VERSION), import_name(fn)))
#define EXPORT(name) __attribute__((export_name(name)))

/* A string or list as the ABI stores it: pointer and element count. */
struct cabi_slice {
    void *ptr;
    size_t len;
};

/* option<string> / option<list<u8>>: u8 tag, payload at offset 4. */
struct cabi_option {
    uint8_t is_some;
    struct cabi_slice val;
};

/* result<string, status>: u8 tag, payload (string or u8 enum) at offset 4. */
struct cabi_result_string {
    uint8_t is_err;
    union {
        struct cabi_slice ok;
        uint8_t err;
    } val;
};

_Static_assert(sizeof(void *) == 4, "pamwasm guests are wasm32");
_Static_assert(sizeof(struct cabi_slice) == 8, "list element layout");
_Static_assert(sizeof(struct cabi_option) == 12, "option layout");
_Static_assert(sizeof(struct cabi_result_string) == 12, "result layout");

IMPORT("items", "get-item")
void import_get_item(int32_t which, struct cabi_option *ret);

IMPORT("env", "get-env")
void import_get_env(const char *name, size_t name_len, struct cabi_option *ret);
IMPORT("env", "put-env")
int32_t import_put_env(const char *name_value, size_t len);
IMPORT("env", "list-env")
void import_list_env(struct cabi_slice *ret);

IMPORT("data", "set-data")
int32_t import_set_data(const char *name, size_t name_len, const void *value, size_t len);
IMPORT("data", "get-data")
void import_get_data(const char *name, size_t name_len, struct cabi_option *ret);
IMPORT("data", "delete-data")
int32_t import_delete_data(const char *name, size_t name_len);

IMPORT("log", "syslog")
void import_syslog(int32_t level, const char *message, size_t len);

IMPORT("conversation", "info")
int32_t import_info(const char *text, size_t len);
IMPORT("conversation", "error")
int32_t import_error(const char *text, size_t len);
IMPORT("conversation", "prompt")
void import_prompt(int32_t style, const char *text, size_t len, struct cabi_result_string *ret);


/* ----- Memory shared with the host ----- */

static void *checked(void *p)
{
    if (p == NULL)
        __builtin_trap();
    return p;
}

/*
 * Zero-sized allocations return `align` (a non-NULL pointer that is never
 * dereferenced), as wit-bindgen's guests do; release() below never frees
 * them. Larger ones come from malloc, whose alignment (16) covers every type
 * of this world.
 */
EXPORT("cabi_realloc")
void *cabi_realloc(void *old_ptr, size_t old_size, size_t align, size_t new_size)
{
    void *p;

    if (new_size == 0) {
        if (old_ptr != NULL && old_size != 0)
            free(old_ptr);
        return (void *)align;
    }
    if (align > 16) {
        p = checked(aligned_alloc(align, (new_size + align - 1) & ~(align - 1)));
        if (old_ptr != NULL && old_size != 0) {
            memcpy(p, old_ptr, old_size < new_size ? old_size : new_size);
            free(old_ptr);
        }
        return p;
    }
    if (old_ptr != NULL && old_size != 0)
        return checked(realloc(old_ptr, new_size));
    return checked(malloc(new_size));
}

static void release(void *ptr, size_t size)
{
    if (size != 0)
        free(ptr);
}

/* Turns a host-allocated string into a NUL-terminated one, in place. */
static char *take_string(struct cabi_slice s)
{
    char *p;

    if (s.len == 0)
        return checked(calloc(1, 1));
    p = checked(realloc(s.ptr, s.len + 1));
    p[s.len] = '\0';
    return p;
}

/* The text as the host may receive it; *owned is a copy to free, or NULL. */
static struct cabi_slice host_text(const char *text, char **owned)
{
    size_t len;
    const char *s = __pamwasm_utf8(text, &len, owned);

    return (struct cabi_slice){ (void *)s, len };
}

/* ----- Host calls ----- */

char *__pamwasm_host_get_item(enum wit_item which)
{
    struct cabi_option ret;

    import_get_item((int32_t)which, &ret);
    return ret.is_some ? take_string(ret.val) : NULL;
}

char *__pamwasm_host_get_env(const char *name)
{
    struct cabi_option ret;
    char *owned;
    struct cabi_slice s = host_text(name, &owned);

    import_get_env(s.ptr, s.len, &ret);
    free(owned);
    return ret.is_some ? take_string(ret.val) : NULL;
}

int __pamwasm_host_put_env(const char *name_value)
{
    char *owned;
    struct cabi_slice s = host_text(name_value, &owned);
    int32_t status = import_put_env(s.ptr, s.len);

    free(owned);
    return status;
}

char **__pamwasm_host_list_env(void)
{
    struct cabi_slice ret;
    struct cabi_slice *entries;
    char **list;
    size_t i;

    import_list_env(&ret);
    entries = ret.ptr;
    list = checked(malloc((ret.len + 1) * sizeof(char *)));
    for (i = 0; i < ret.len; i++)
        list[i] = take_string(entries[i]);
    list[ret.len] = NULL;
    release(ret.ptr, ret.len * sizeof(struct cabi_slice));
    return list;
}

int __pamwasm_host_set_data(const char *name, const void *buf, size_t len)
{
    char *owned;
    struct cabi_slice s = host_text(name, &owned);
    int32_t status = import_set_data(s.ptr, s.len, len ? buf : "", len);

    free(owned);
    return status;
}

int __pamwasm_host_get_data(const char *name, void **buf, size_t *len)
{
    struct cabi_option ret;
    char *owned;
    struct cabi_slice s = host_text(name, &owned);

    import_get_data(s.ptr, s.len, &ret);
    free(owned);
    if (!ret.is_some)
        return 0;
    *len = ret.val.len;
    *buf = ret.val.len ? ret.val.ptr : NULL;
    return 1;
}

int __pamwasm_host_delete_data(const char *name)
{
    char *owned;
    struct cabi_slice s = host_text(name, &owned);
    int32_t status = import_delete_data(s.ptr, s.len);

    free(owned);
    return status;
}

void __pamwasm_host_syslog(int level, const char *message)
{
    char *owned;
    struct cabi_slice s = host_text(message, &owned);

    import_syslog(level, s.ptr, s.len);
    free(owned);
}

int __pamwasm_host_info(const char *text)
{
    char *owned;
    struct cabi_slice s = host_text(text, &owned);
    int32_t status = import_info(s.ptr, s.len);

    free(owned);
    return status;
}

int __pamwasm_host_error(const char *text)
{
    char *owned;
    struct cabi_slice s = host_text(text, &owned);
    int32_t status = import_error(s.ptr, s.len);

    free(owned);
    return status;
}

int __pamwasm_host_prompt(int echo_on, const char *text, char **answer)
{
    struct cabi_result_string ret;
    char *owned;
    struct cabi_slice s = host_text(text, &owned);

    import_prompt(echo_on ? WIT_PROMPT_STYLE_ECHO_ON : WIT_PROMPT_STYLE_ECHO_OFF, s.ptr, s.len, &ret);
    free(owned);
    *answer = NULL;
    if (ret.is_err)
        return ret.val.err;
    *answer = take_string(ret.val.ok);
    return PAM_SUCCESS;
}

/* ----- Exports ----- */

/* One module instance serves one PAM handle: this is it. */
struct pam_handle __pamwasm_handle;

/* A hook the module does not define is a NULL weak symbol. */
extern int pam_sm_open_session(pam_handle_t *, int, int, const char **) __attribute__((weak));
extern int pam_sm_close_session(pam_handle_t *, int, int, const char **) __attribute__((weak));

/* Synthesized by wasm-ld: runs the module's static constructors. */
extern void __wasm_call_ctors(void);

typedef int (*pam_hook)(pam_handle_t *, int, int, const char **);

static int32_t run_hook(pam_hook hook, int32_t wit_flags, struct cabi_slice *argv, size_t argc)
{
    static int constructed;
    const char **args;
    int flags = 0, status;
    size_t i;

    if (!constructed) {
        constructed = 1;
        __wasm_call_ctors();
    }

    /* libpam passes argv NULL-terminated and owned by the handle for the
     * duration of the call; a module must copy what it keeps. */
    args = checked(malloc((argc + 1) * sizeof(char *)));
    for (i = 0; i < argc; i++)
        args[i] = take_string(argv[i]);
    args[argc] = NULL;
    release(argv, argc * sizeof(struct cabi_slice));

    if (wit_flags & WIT_SESSION_FLAGS_SILENT)
        flags |= PAM_SILENT;

    /* pam_dispatch.c: a handler without this hook yields PAM_MODULE_UNKNOWN. */
    if (hook == NULL)
        status = PAM_MODULE_UNKNOWN;
    else
        status = hook(&__pamwasm_handle, flags, (int)argc, args);

    for (i = 0; i < argc; i++)
        free((char *)args[i]);
    free(args);

    /* pam_dispatch.c: "verify that the return value is a valid one" — a
     * value outside 0.._PAM_RETURN_VALUES-1 becomes PAM_MUST_FAIL_CODE,
     * which is PAM_PERM_DENIED. (libpam also forces the stack's "bad"
     * action for it; the host sees only the code.) */
    if (status < PAM_SUCCESS || status >= _PAM_RETURN_VALUES)
        status = PAM_PERM_DENIED;
    return status;
}

EXPORT("open-session")
int32_t __pamwasm_open_session(int32_t flags, struct cabi_slice *argv, size_t argc)
{
    return run_hook(pam_sm_open_session, flags, argv, argc);
}

EXPORT("close-session")
int32_t __pamwasm_close_session(int32_t flags, struct cabi_slice *argv, size_t argc)
{
    return run_hook(pam_sm_close_session, flags, argv, argc);
}
