/*
 * <security/_pam_macros.h> for pamwasm C guests: the small helpers that
 * Linux-PAM modules use (x_strdup, _pam_overwrite, _pam_drop, ...).
 * D(()) debug output compiles to nothing, as in a non-debug Linux-PAM build.
 */
#ifndef PAM_MACROS_H
#define PAM_MACROS_H

#include <stdlib.h>
#include <string.h>

#define x_strdup(s) ((s) ? strdup(s) : NULL)

/* Wipes a string before it is freed, as Linux-PAM does with answers. */
#define _pam_overwrite(x)            \
do {                                 \
    char *__xx__;                    \
    if ((__xx__ = (x)))              \
        while (*__xx__)              \
            *__xx__++ = '\0';        \
} while (0)

#define _pam_overwrite_n(x, n)       \
do {                                 \
    char *__xx__;                    \
    unsigned int __i__ = 0;          \
    if ((__xx__ = (x)))              \
        for (; __i__ < (n); __i__++) \
            __xx__[__i__] = 0;       \
} while (0)

#define _pam_drop(X)                 \
do {                                 \
    if (X) {                         \
        free(X);                     \
        X = NULL;                    \
    }                                \
} while (0)

#define _pam_drop_reply(reply, replies)               \
do {                                                  \
    int reply_i;                                      \
    for (reply_i = 0; reply_i < (replies); ++reply_i) \
        if ((reply)[reply_i].resp) {                  \
            _pam_overwrite((reply)[reply_i].resp);    \
            free((reply)[reply_i].resp);              \
        }                                             \
    if (reply)                                        \
        free(reply);                                  \
} while (0)

#define D(x) do { } while (0)

#endif /* PAM_MACROS_H */
