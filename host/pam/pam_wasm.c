/*
 * pam_wasm.so: a PAM session module that forwards open_session and
 * close_session to the resident `pamwasm daemon`, which runs the WASM stack
 * (docs/protocol.md, docs/daemon.md). The design is pam_sss's and
 * pam_systemd's: a thin module in the application, the work in a service.
 *
 *   session required pam_wasm.so stack=/etc/pamwasm/sshd.stack [socket=PATH]
 *     [timeout=10s] [on_unavailable=session_err] [daemon_user=pamwasm] [spin=1ms] [debug] [ARG...]
 *
 * It must never crash or hang the application (sshd, login, su): every wait
 * is bounded by timeout=, writes never raise SIGPIPE, and anything it cannot
 * trust (no daemon, the wrong peer, a late or malformed reply) returns
 * on_unavailable, which may not be success or ignore (fail closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "wire.h"

#define DEFAULT_SOCKET "/run/pamwasm/pamwasm.sock"
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_SPIN_US 1000
#define MAX_SPIN_US 100000
#define DEFAULT_DAEMON_USER "pamwasm"
#define SESSION_DATA "pamwasm_session_id"
#define UID_DATA "pamwasm_daemon_uid"
/* Built with -fvisibility=hidden: only the two hooks leave the module. */
#define EXPORT __attribute__((visibility("default")))

enum { HOOK_OPEN = 1, HOOK_CLOSE = 2 };

/* pam.d's code names (libpam's pam_tokens.h) for on_unavailable=. */
static const struct { const char *name; int code; } CODES[] = {
  {"success", PAM_SUCCESS}, {"open_err", PAM_OPEN_ERR}, {"symbol_err", PAM_SYMBOL_ERR},
  {"service_err", PAM_SERVICE_ERR}, {"system_err", PAM_SYSTEM_ERR}, {"buf_err", PAM_BUF_ERR},
  {"perm_denied", PAM_PERM_DENIED}, {"auth_err", PAM_AUTH_ERR},
  {"cred_insufficient", PAM_CRED_INSUFFICIENT}, {"authinfo_unavail", PAM_AUTHINFO_UNAVAIL},
  {"user_unknown", PAM_USER_UNKNOWN}, {"maxtries", PAM_MAXTRIES},
  {"new_authtok_reqd", PAM_NEW_AUTHTOK_REQD}, {"acct_expired", PAM_ACCT_EXPIRED},
  {"session_err", PAM_SESSION_ERR}, {"cred_unavail", PAM_CRED_UNAVAIL},
  {"cred_expired", PAM_CRED_EXPIRED}, {"cred_err", PAM_CRED_ERR},
  {"no_module_data", PAM_NO_MODULE_DATA}, {"conv_err", PAM_CONV_ERR},
  {"authtok_err", PAM_AUTHTOK_ERR}, {"authtok_recover_err", PAM_AUTHTOK_RECOVERY_ERR},
  {"authtok_lock_busy", PAM_AUTHTOK_LOCK_BUSY}, {"authtok_disable_aging", PAM_AUTHTOK_DISABLE_AGING},
  {"try_again", PAM_TRY_AGAIN}, {"ignore", PAM_IGNORE}, {"abort", PAM_ABORT},
  {"authtok_expired", PAM_AUTHTOK_EXPIRED}, {"module_unknown", PAM_MODULE_UNKNOWN},
  {"bad_item", PAM_BAD_ITEM}, {"conv_again", PAM_CONV_AGAIN}, {"incomplete", PAM_INCOMPLETE},
};
#define NCODES (sizeof CODES / sizeof CODES[0])

/* The items sent to the daemon. PAM_AUTHTOK and PAM_OLDAUTHTOK never are. */
static const int ITEMS[] = {PAM_SERVICE, PAM_USER, PAM_TTY, PAM_RHOST, PAM_RUSER, PAM_XDISPLAY};

struct options {
  const char *stack, *socket, *daemon_user;
  int64_t timeout_ms, spin_us;
  int on_unavailable, debug, bad;
  int nargs; /* argv other than the module's own */
  const char **args;
};

static int parse_duration(const char *s, int64_t *ms) {
  char *end;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  if (errno || end == s || n <= 0 || n > 86400000) return -1;
  if (strcmp(end, "s") == 0) n *= 1000;
  else if (strcmp(end, "ms") != 0 && *end != '\0') return -1;
  *ms = n;
  return 0;
}

/* spin=: 0, or microseconds (us) or milliseconds (ms), at most 100ms. */
static int parse_spin(const char *s, int64_t *us) {
  char *end;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  if (errno || end == s || n < 0) return -1;
  if (strcmp(end, "ms") == 0) n *= 1000;
  else if (strcmp(end, "us") != 0 && !(*end == '\0' && n == 0)) return -1;
  if (n > MAX_SPIN_US) return -1;
  *us = n;
  return 0;
}

static int code_by_name(const char *name) {
  for (size_t i = 0; i < NCODES; i++)
    if (strcmp(CODES[i].name, name) == 0) return CODES[i].code;
  return -1;
}

/* Reads the arguments. A bad one is logged and makes the hook fail closed. */
static void parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->socket = DEFAULT_SOCKET;
  o->daemon_user = DEFAULT_DAEMON_USER;
  o->timeout_ms = DEFAULT_TIMEOUT_MS;
  o->spin_us = DEFAULT_SPIN_US;
  o->on_unavailable = PAM_SESSION_ERR;
  o->args = calloc((size_t)argc + 1, sizeof *o->args);
  if (!o->args) { o->bad = 1; return; }
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "stack=", 6) == 0) o->stack = a + 6;
    else if (strncmp(a, "socket=", 7) == 0) o->socket = a + 7;
    else if (strncmp(a, "daemon_user=", 12) == 0) o->daemon_user = a + 12;
    else if (strcmp(a, "debug") == 0) o->debug = 1;
    else if (strncmp(a, "timeout=", 8) == 0) {
      if (parse_duration(a + 8, &o->timeout_ms) != 0) {
        pam_syslog(pamh, LOG_ERR, "%s is not a duration such as 300ms or 10s", a);
        o->bad = 1;
      }
    } else if (strncmp(a, "spin=", 5) == 0) {
      if (parse_spin(a + 5, &o->spin_us) != 0) {
        pam_syslog(pamh, LOG_ERR, "%s is not a spin time such as 0, 500us or 1ms (at most 100ms)", a);
        o->bad = 1;
      }
    } else if (strncmp(a, "on_unavailable=", 15) == 0) {
      int code = code_by_name(a + 15);
      if (code == PAM_SUCCESS || code == PAM_IGNORE || code < 0) {
        pam_syslog(pamh, LOG_ERR, "%s refused: give a failure code such as session_err (success and ignore would let a session open unchecked); using session_err", a);
        code = PAM_SESSION_ERR;
      }
      o->on_unavailable = code;
    } else o->args[o->nargs++] = a;
  }
  if (!o->stack || o->stack[0] != '/') {
    pam_syslog(pamh, LOG_ERR, "stack=PATH (absolute) is required");
    o->bad = 1;
  }
}

/* The HOOK frame: the request the daemon runs. */
static int build_hook(pam_handle_t *pamh, const struct options *o, int hook, int flags, struct wire_out *w) {
  const void *id = NULL;
  if (pam_get_data(pamh, SESSION_DATA, &id) != PAM_SUCCESS || !id) id = "";
  wire_begin(w, WIRE_HOOK);
  wire_u8(w, WIRE_VERSION);
  wire_u8(w, (unsigned)hook);
  wire_u32(w, (uint32_t)flags);
  wire_u32(w, (uint32_t)getpid());
  wire_str(w, o->stack);
  wire_str(w, id);
  wire_u32(w, (uint32_t)o->nargs);
  for (int i = 0; i < o->nargs; i++) wire_str(w, o->args[i]);

  const char *values[sizeof ITEMS / sizeof ITEMS[0]];
  uint32_t set = 0;
  for (size_t i = 0; i < sizeof ITEMS / sizeof ITEMS[0]; i++) {
    const void *v = NULL;
    values[i] = pam_get_item(pamh, ITEMS[i], &v) == PAM_SUCCESS ? v : NULL;
    if (values[i]) set++;
  }
  wire_u32(w, set);
  for (size_t i = 0; i < sizeof ITEMS / sizeof ITEMS[0]; i++) {
    if (!values[i]) continue;
    wire_u8(w, (unsigned)ITEMS[i]);
    wire_str(w, values[i]);
  }

  char **env = pam_getenvlist(pamh);
  uint32_t n = 0;
  while (env && env[n]) n++;
  if (n > WIRE_MAX_STRINGS) w->failed = 1;
  wire_u32(w, n);
  for (uint32_t i = 0; env && i < n; i++) wire_str(w, env[i]);
  for (uint32_t i = 0; env && i < n; i++) free(env[i]);
  free(env);
  return wire_end(w);
}

static void free_id(pam_handle_t *pamh, void *data, int status) {
  (void)pamh; (void)status;
  free(data);
}

/*
 * Asks the application and sends ANSWER, within left_ms of waiting counted
 * from the answer. Returns -1 if the answer cannot be sent.
 */
static int answer_prompt(pam_handle_t *pamh, int fd, unsigned style, const char *text, int64_t left_ms) {
  char *resp = NULL;
  int code = pam_prompt(pamh, (int)style, &resp, "%s", text);
  int64_t deadline = wire_now_ms() + left_ms;
  if (code == PAM_SUCCESS && resp && !wire_string_ok(resp)) code = PAM_CONV_ERR;
  struct wire_out w;
  wire_begin(&w, WIRE_ANSWER);
  wire_u32(&w, (uint32_t)code);
  wire_str(&w, code == PAM_SUCCESS && resp ? resp : "");
  int rc = wire_end(&w) == 0 ? wire_send(fd, w.data, w.len, deadline) : -1;
  wire_free(&w);
  if (resp) { explicit_bzero(resp, strlen(resp)); free(resp); }
  return rc;
}

/*
 * Relays the daemon's frames until RESULT. Returns the hook's code, or -1
 * for a malformed, late or missing reply. The deadline moves by the time
 * spent in the application's conversation, which timeout= does not count.
 */
static int relay(pam_handle_t *pamh, struct wire_reader *r, int64_t deadline, int debug) {
  int fd = r->fd;
  for (;;) {
    struct wire_in f;
    if (wire_read(r, &f, deadline) != 0) return -1;
    unsigned style = 0, priority = 0;
    uint32_t code = 0;
    char *text = NULL;
    int ok = -1, result = -1;
    int64_t started = wire_now_ms();
    switch (f.type) {
    case WIRE_MESSAGE:
      if (wire_get_u8(&f, &style) == 0 && (style == PAM_ERROR_MSG || style == PAM_TEXT_INFO) &&
          wire_get_str(&f, &text) == 0 && wire_get_end(&f) == 0) {
        pam_prompt(pamh, (int)style, NULL, "%s", text);
        ok = 0;
      }
      break;
    case WIRE_PROMPT:
      if (wire_get_u8(&f, &style) == 0 && (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) &&
          wire_get_str(&f, &text) == 0 && wire_get_end(&f) == 0)
        ok = answer_prompt(pamh, fd, style, text, deadline - started);
      break;
    case WIRE_PUTENV:
      if (wire_get_str(&f, &text) == 0 && wire_get_end(&f) == 0 && text[0] != '\0' && text[0] != '=') {
        int rc = pam_putenv(pamh, text);
        if (rc != PAM_SUCCESS && debug) pam_syslog(pamh, LOG_DEBUG, "pam_putenv: %s", pam_strerror(pamh, rc));
        ok = 0;
      }
      break;
    case WIRE_SYSLOG:
      if (wire_get_u8(&f, &priority) == 0 && priority <= LOG_DEBUG && wire_get_str(&f, &text) == 0 && wire_get_end(&f) == 0) {
        pam_syslog(pamh, (int)priority, "%s", text);
        ok = 0;
      }
      break;
    case WIRE_SESSION:
      if (wire_get_str(&f, &text) == 0 && wire_get_end(&f) == 0 &&
          pam_set_data(pamh, SESSION_DATA, text, free_id) == PAM_SUCCESS) {
        text = NULL; /* the handle owns it now */
        ok = 0;
      }
      break;
    case WIRE_RESULT:
      if (wire_get_u32(&f, &code) == 0 && wire_get_end(&f) == 0 && code <= PAM_INCOMPLETE) {
        ok = 0;
        result = (int)code;
      }
      break;
    }
    if (f.type == WIRE_MESSAGE || f.type == WIRE_PROMPT) deadline += wire_now_ms() - started;
    free(text);
    if (ok != 0 && debug) pam_syslog(pamh, LOG_DEBUG, "malformed or unanswerable frame of type 0x%02x", f.type);
    wire_in_free(&f);
    if (ok != 0) return -1;
    if (result >= 0) return result;
  }
}

/* The daemon user's uid, kept on the handle: a close then reads no user database. */
struct daemon_uid { uid_t uid; char name[]; };

static int daemon_uid_of(pam_handle_t *pamh, const char *name, uid_t *uid) {
  const void *kept = NULL;
  if (pam_get_data(pamh, UID_DATA, &kept) == PAM_SUCCESS && kept && strcmp(((const struct daemon_uid *)kept)->name, name) == 0) {
    *uid = ((const struct daemon_uid *)kept)->uid;
    return 0;
  }
  char buf[16384];
  struct passwd pw, *found = NULL;
  if (getpwnam_r(name, &pw, buf, sizeof buf, &found) != 0 || !found) return -1;
  *uid = pw.pw_uid;
  size_t n = strlen(name);
  struct daemon_uid *d = malloc(sizeof *d + n + 1);
  if (d) {
    d->uid = pw.pw_uid;
    memcpy(d->name, name, n + 1);
    if (pam_set_data(pamh, UID_DATA, d, free_id) != PAM_SUCCESS) free(d);
  }
  return 0;
}

static int run_hook(pam_handle_t *pamh, int hook, int flags, int argc, const char **argv) {
  struct options o;
  parse_options(pamh, argc, argv, &o);
  int code = o.on_unavailable;
  if (o.bad) goto out;

  uid_t daemon_uid;
  if (daemon_uid_of(pamh, o.daemon_user, &daemon_uid) != 0) {
    pam_syslog(pamh, LOG_ERR, "daemon_user %s does not exist", o.daemon_user);
    goto out;
  }
  int64_t deadline = wire_now_ms() + o.timeout_ms;
  int fd = wire_connect(o.socket, deadline);
  if (fd < 0) {
    pam_syslog(pamh, LOG_ERR, "cannot reach the pamwasm daemon at %s: %s", o.socket, strerror(errno));
    goto out;
  }
  /* SO_PEERCRED gives whoever called listen(2) (unix(7)): root for the
   * socket systemd activates, and for one the daemon bound before dropping
   * to daemon_user. A socket root listens on is root's doing and trusted;
   * any other listener must be daemon_user. */
  uid_t peer;
  if (wire_peer_uid(fd, &peer) != 0 || (peer != daemon_uid && peer != 0)) {
    pam_syslog(pamh, LOG_ERR, "the peer on %s is not %s: refused", o.socket, o.daemon_user);
    close(fd);
    goto out;
  }
  struct wire_out w;
  int sent = build_hook(pamh, &o, hook, flags, &w) == 0 ? wire_send(fd, w.data, w.len, deadline) : -1;
  wire_free(&w);
  struct wire_reader reader;
  wire_reader_init(&reader, fd, o.spin_us);
  int result = sent == 0 ? relay(pamh, &reader, deadline, o.debug) : -1;
  close(fd);
  if (result < 0) pam_syslog(pamh, LOG_ERR, "no valid answer from the pamwasm daemon at %s within %lldms", o.socket, (long long)o.timeout_ms);
  else code = result;
  if (o.debug) pam_syslog(pamh, LOG_DEBUG, "%s: %s", hook == HOOK_OPEN ? "open_session" : "close_session", pam_strerror(pamh, code));
out:
  free(o.args);
  return code;
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  return run_hook(pamh, HOOK_OPEN, flags, argc, argv);
}

EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  return run_hook(pamh, HOOK_CLOSE, flags, argc, argv);
}
