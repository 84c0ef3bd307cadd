/*
 * Internal to the pamwasm C SDK: the handle and the host calls, as plain C.
 *
 * abi.c speaks the component model's canonical ABI to the host; the PAM
 * calls (items.c, env.c, data.c, log.c, conversation.c) only use the
 * helpers declared here. Every string returned by a helper is malloc'd and
 * NUL-terminated; the caller owns it.
 */
#ifndef PAMWASM_GLUE_H
#define PAMWASM_GLUE_H

/* Must come first in every SDK source: vasprintf is a GNU extension, and
 * the PAM headers keep NULL checks alive only for LIBPAM_COMPILE. */
#define _GNU_SOURCE 1
#define LIBPAM_COMPILE 1

#include <stddef.h>
#include <stdint.h>
#include <security/pam_modules.h>

/* The world's enums, flags and version, generated from wit/ (wit.h). */
#include "wit.h"

/* A string kept so that a pointer handed to the module stays valid while
 * the value does not change, as libpam's item and environment pointers do. */
struct kept_string {
    struct kept_string *next;
    char *name;
    char *value;
};

struct pointer_data {
    struct pointer_data *next;
    char *name;
    void *data;
    void (*cleanup)(pam_handle_t *pamh, void *data, int error_status);
};

struct kept_bytes {
    struct kept_bytes *next;
    char *name;
    void *bytes;
};

/* The PAM handle's state inside the module. */
struct pam_handle {
    struct pam_conv conv;
    struct pam_xauth_data xauth;
    char *items[WIT_ITEM_COUNT];
    /* Set by pam_get_user when it had to ask for the name (see items.c). */
    char *prompted_user;
    int fail_user;
    struct kept_string *env;
    struct pointer_data *data;
    struct kept_bytes *bytes;
};

/* One module instance serves one PAM handle: this is it (abi.c). */
extern struct pam_handle __pamwasm_handle;

/* ----- Host calls (abi.c) ----- */

/* The item's value, or NULL when the application never set it. */
char *__pamwasm_host_get_item(enum wit_item which);
/* The variable's value, or NULL when it is not set. */
char *__pamwasm_host_get_env(const char *name);
int __pamwasm_host_put_env(const char *name_value);
/* A NULL-terminated array as pam_getenvlist returns it, or NULL (no memory). */
char **__pamwasm_host_list_env(void);

int __pamwasm_host_set_data(const char *name, const void *buf, size_t len);
/* 1 and a malloc'd copy (*buf may be NULL when *len is 0), or 0 when none. */
int __pamwasm_host_get_data(const char *name, void **buf, size_t *len);
int __pamwasm_host_delete_data(const char *name);

void __pamwasm_host_syslog(int level, const char *message);

int __pamwasm_host_info(const char *text);
int __pamwasm_host_error(const char *text);
/* PAM_SUCCESS and a malloc'd *answer, or the host's failure status. */
int __pamwasm_host_prompt(int echo_on, const char *text, char **answer);

/* ----- Shared between the PAM calls ----- */

/* `text` as well-formed UTF-8 of *len bytes: `text` itself, or a copy
 * (also returned in *owned, for the caller to free) with U+FFFD for each
 * ill-formed byte. *owned is NULL when no copy was needed. */
const char *__pamwasm_utf8(const char *text, size_t *len, char **owned);

/* One conversation message (msg_style as in pam_message); *resp is set to a
 * malloc'd answer for prompts, NULL otherwise. */
int __pamwasm_converse_one(int msg_style, const char *text, char **resp);

/* The conv() of the handle's PAM_CONV (conversation.c). */
int __pamwasm_converse(int num_msg, const struct pam_message **msg,
                       struct pam_response **resp, void *appdata_ptr);

#endif /* PAMWASM_GLUE_H */
