/*
 * Text towards the host: the canonical ABI's strings are UTF-8, and a C
 * module's are bytes. Ill-formed bytes become U+FFFD (one per byte) instead
 * of reaching the host, which would have to trap or guess.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 if none. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;   /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;   /* nothing above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

const char *__pamwasm_utf8(const char *text, size_t *out_len, char **owned)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t len = strlen((const char *)s), i = 0, n, out = 0;
    unsigned char *copy;

    *owned = NULL;
    while (i < len && (n = utf8_sequence(s + i, len - i)) != 0)
        i += n;
    if (i == len) {
        *out_len = len;
        return (const char *)s;
    }

    /* Each ill-formed byte becomes 3 bytes at most. Out of memory traps, as
     * everywhere in the glue. */
    copy = malloc(len * 3);
    if (copy == NULL)
        __builtin_trap();
    for (i = 0; i < len;) {
        n = utf8_sequence(s + i, len - i);
        if (n == 0) {
            memcpy(copy + out, "\xef\xbf\xbd", 3);
            out += 3;
            i++;
        } else {
            memcpy(copy + out, s + i, n);
            out += n;
            i += n;
        }
    }
    *owned = (char *)copy;
    *out_len = out;
    return (const char *)copy;
}
