/*
 * <security/_pam_types.h> for pamwasm C guests.
 *
 * Same names and numbers as Linux-PAM 1.5.2's header, so module sources
 * compile unchanged. Only what a session module can use here is declared;
 * calls the session-module world cannot honour are declared `unavailable`
 * so that using them is a compile error that says why, not a link error.
 */
#ifndef _SECURITY__PAM_TYPES_H
#define _SECURITY__PAM_TYPES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque, as in Linux-PAM: a module only ever holds a pointer to it. */
typedef struct pam_handle pam_handle_t;

#define __LINUX_PAM__ 1
#define __LINUX_PAM_MINOR__ 0
/* Lets a source tell it is built for pamwasm (e.g. to skip file access). */
#define __PAMWASM__ 1

/* ----- Return codes: the WIT `status` enum has one case per number ----- */

#define PAM_SUCCESS               0
#define PAM_OPEN_ERR              1
#define PAM_SYMBOL_ERR            2
#define PAM_SERVICE_ERR           3
#define PAM_SYSTEM_ERR            4
#define PAM_BUF_ERR               5
#define PAM_PERM_DENIED           6
#define PAM_AUTH_ERR              7
#define PAM_CRED_INSUFFICIENT     8
#define PAM_AUTHINFO_UNAVAIL      9
#define PAM_USER_UNKNOWN         10
#define PAM_MAXTRIES             11
#define PAM_NEW_AUTHTOK_REQD     12
#define PAM_ACCT_EXPIRED         13
#define PAM_SESSION_ERR          14
#define PAM_CRED_UNAVAIL         15
#define PAM_CRED_EXPIRED         16
#define PAM_CRED_ERR             17
#define PAM_NO_MODULE_DATA       18
#define PAM_CONV_ERR             19
#define PAM_AUTHTOK_ERR          20
#define PAM_AUTHTOK_RECOVERY_ERR 21
#define PAM_AUTHTOK_LOCK_BUSY    22
#define PAM_AUTHTOK_DISABLE_AGING 23
#define PAM_TRY_AGAIN            24
#define PAM_IGNORE               25
#define PAM_ABORT                26
#define PAM_AUTHTOK_EXPIRED      27
#define PAM_MODULE_UNKNOWN       28
#define PAM_BAD_ITEM             29
#define PAM_CONV_AGAIN           30
#define PAM_INCOMPLETE           31

/* Number of return codes; a hook returning anything outside
 * 0.._PAM_RETURN_VALUES-1 is reported as PAM_PERM_DENIED (see glue). */
#define _PAM_RETURN_VALUES 32

/* ----- Flags ----- */

#define PAM_SILENT                  0x8000U
#define PAM_DISALLOW_NULL_AUTHTOK   0x0001U
#define PAM_ESTABLISH_CRED          0x0002U
#define PAM_DELETE_CRED             0x0004U
#define PAM_REINITIALIZE_CRED       0x0008U
#define PAM_REFRESH_CRED            0x0010U
#define PAM_CHANGE_EXPIRED_AUTHTOK  0x0020U

/* ----- Item types for pam_get_item ----- */

#define PAM_SERVICE      1
#define PAM_USER         2
#define PAM_TTY          3
#define PAM_RHOST        4
#define PAM_CONV         5
#define PAM_AUTHTOK      6  /* PAM_BAD_ITEM here: session modules never see passwords */
#define PAM_OLDAUTHTOK   7  /* PAM_BAD_ITEM here, as PAM_AUTHTOK */
#define PAM_RUSER        8
#define PAM_USER_PROMPT  9
#define PAM_FAIL_DELAY  10  /* always NULL: the world has no fail-delay hook */
#define PAM_XDISPLAY    11
#define PAM_XAUTHDATA   12  /* always an empty struct pam_xauth_data */
#define PAM_AUTHTOK_TYPE 13 /* always NULL */

/* Cleanup status bit: see pam_set_data(3). */
#define PAM_DATA_SILENT 0x40000000

/* ----- Conversation ----- */

#define PAM_PROMPT_ECHO_OFF 1
#define PAM_PROMPT_ECHO_ON  2
#define PAM_ERROR_MSG       3
#define PAM_TEXT_INFO       4
/* Linux-PAM extensions; the world's conversation has no such messages,
 * so the conversation function answers them with PAM_CONV_ERR. */
#define PAM_RADIO_TYPE      5
#define PAM_BINARY_PROMPT   7

#define PAM_MAX_NUM_MSG   32
#define PAM_MAX_MSG_SIZE  512
#define PAM_MAX_RESP_SIZE 512

struct pam_message {
    int msg_style;
    const char *msg;
};

struct pam_response {
    char *resp;
    int resp_retcode;   /* unused, always 0 */
};

struct pam_conv {
    int (*conv)(int num_msg, const struct pam_message **msg,
                struct pam_response **resp, void *appdata_ptr);
    void *appdata_ptr;
};

struct pam_xauth_data {
    int namelen;
    char *name;
    int datalen;
    char *data;
};

/* ----- Attributes ----- */

#if defined(__GNUC__) && defined(__GNUC_MINOR__)
# define PAM_GNUC_PREREQ(maj, min) \
        ((__GNUC__ << 16) + __GNUC_MINOR__ >= ((maj) << 16) + (min))
#else
# define PAM_GNUC_PREREQ(maj, min) 0
#endif
#define PAM_FORMAT(params) __attribute__((__format__ params))
/* As in Linux-PAM, the SDK's own sources (LIBPAM_COMPILE) drop nonnull:
 * they check for NULL, and the attribute would let the compiler delete
 * those checks. */
#if !defined(LIBPAM_COMPILE)
# define PAM_NONNULL(params) __attribute__((__nonnull__ params))
#else
# define PAM_NONNULL(params)
#endif
#define PAMWASM_UNAVAILABLE(why) __attribute__((__unavailable__(why)))

/* ----- Calls shared by applications and modules ----- */

extern int PAM_NONNULL((1))
pam_get_item(const pam_handle_t *pamh, int item_type, const void **item);

extern int
pam_set_item(pam_handle_t *pamh, int item_type, const void *item)
    PAMWASM_UNAVAILABLE("pamwasm: items are read-only in the session-module world (it has no set-item)");

extern const char *
pam_strerror(pam_handle_t *pamh, int errnum);

extern int PAM_NONNULL((1,2))
pam_putenv(pam_handle_t *pamh, const char *name_value);

extern const char * PAM_NONNULL((1,2))
pam_getenv(pam_handle_t *pamh, const char *name);

extern char ** PAM_NONNULL((1))
pam_getenvlist(pam_handle_t *pamh);

extern int
pam_fail_delay(pam_handle_t *pamh, unsigned int musec_delay)
    PAMWASM_UNAVAILABLE("pamwasm: the session-module world has no fail delay");

#ifdef __cplusplus
}
#endif

#endif /* _SECURITY__PAM_TYPES_H */
