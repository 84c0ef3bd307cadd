/*
 * The module's side of docs/protocol.md (see wire.h). Every wait is a poll()
 * bounded by a deadline, so a daemon that stops answering costs the
 * application at most timeout=, never a hang.
 */
#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ building */

static void grow(struct wire_out *w, size_t more) {
  if (w->failed) return;
  if (w->len + more > 4 + WIRE_MAX_FRAME) { w->failed = 1; return; }
  if (w->len + more <= w->cap) return;
  size_t cap = w->cap ? w->cap : 1024;
  while (cap < w->len + more) cap *= 2;
  unsigned char *data = realloc(w->data, cap);
  if (!data) { w->failed = 1; return; }
  w->data = data;
  w->cap = cap;
}

static void append(struct wire_out *w, const void *bytes, size_t n) {
  grow(w, n);
  if (w->failed) return;
  memcpy(w->data + w->len, bytes, n);
  w->len += n;
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

void wire_begin(struct wire_out *w, enum wire_type type) {
  memset(w, 0, sizeof *w);
  unsigned char head[5] = {0, 0, 0, 0, (unsigned char)type};
  append(w, head, sizeof head);
}

void wire_u8(struct wire_out *w, unsigned v) {
  unsigned char b = (unsigned char)v;
  append(w, &b, 1);
}

void wire_u32(struct wire_out *w, uint32_t v) {
  unsigned char b[4];
  put_be32(b, v);
  append(w, b, 4);
}

void wire_str(struct wire_out *w, const char *s) {
  if (!wire_string_ok(s)) { w->failed = 1; return; }
  size_t n = strlen(s);
  wire_u32(w, (uint32_t)n);
  append(w, s, n);
}

int wire_end(struct wire_out *w) {
  if (w->failed) return -1;
  put_be32(w->data, (uint32_t)(w->len - 4));
  return 0;
}

void wire_free(struct wire_out *w) {
  if (w->data) explicit_bzero(w->data, w->cap); /* an ANSWER may hold what the user typed */
  free(w->data);
  memset(w, 0, sizeof *w);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t more;
    uint32_t cp, min;
    if (c < 0x80) { i++; continue; }
    else if ((c & 0xe0) == 0xc0) { more = 1; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { more = 2; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { more = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n - i <= more) return 0;
    for (size_t k = 1; k <= more; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += more + 1;
  }
  return 1;
}

int wire_string_ok(const char *s) {
  size_t n = strnlen(s, WIRE_MAX_STRING + 1);
  return n <= WIRE_MAX_STRING && utf8_ok((const unsigned char *)s, n);
}

/* ------------------------------------------------------------ the socket */

/* CLOCK_MONOTONIC in microseconds. */
static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wire_now_ms(void) {
  return now_us() / 1000;
}

/* Waits for events on fd until deadline_ms: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - wire_now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
  }
}

int wire_connect(const char *path, int64_t deadline_ms) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  for (;;) {
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS) {
      int err = 0;
      socklen_t len = sizeof err;
      if (wait_fd(fd, POLLOUT, deadline_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return fd;
      if (err) errno = err; else errno = ETIMEDOUT;
      break;
    }
    /* A full backlog gives EAGAIN on a non-blocking UNIX socket: retry until the deadline. */
    if (errno != EAGAIN || wire_now_ms() >= deadline_ms) break;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&pause, NULL);
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

int wire_peer_uid(int fd, uid_t *uid) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return -1;
  *uid = cred.uid;
  return 0;
}

int wire_send(int fd, const void *buf, size_t len, int64_t deadline_ms) {
  const unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) { p += n; len -= (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT, deadline_ms) == 1) continue;
    return -1;
  }
  return 0;
}

void wire_reader_init(struct wire_reader *r, int fd, int64_t spin_us) {
  r->fd = fd;
  r->spin_us = spin_us;
  r->at = r->end = 0;
}

/* Whether no thread waits for a CPU now: at most as many runnable threads (this one among them) as CPUs. */
static int none_waits_for_cpu(void) {
  static int cpus;
  if (cpus == 0) {
    cpu_set_t set;
    cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  /* The fourth field of /proc/loadavg: runnable threads now (this one among them) / all threads. */
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char *p = text;
  for (int field = 0; field < 3 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p && atoi(p) <= cpus;
}

/*
 * Polls fd without sleeping, for up to spin_us or until deadline_ms: 1 as
 * soon as it is ready, 0 if it was not. The daemon answers a hook in a few
 * hundred microseconds; sleeping in poll(2) for that long costs a wake-up
 * on top, which on an idle virtual machine takes as long as the hook
 * itself. It polls only while no thread waits for a CPU, so it takes a CPU
 * from no one: not from the daemon, not from anyone else.
 */
static int spin_fd(int fd, short events, int64_t spin_us, int64_t deadline_ms) {
  if (spin_us <= 0 || !none_waits_for_cpu()) return 0;
  int64_t until_us = now_us() + spin_us;
  if (until_us > deadline_ms * 1000) until_us = deadline_ms * 1000;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = events};
    if (poll(&p, 1, 0) > 0) return 1;
    if (now_us() >= until_us) return 0;
    sched_yield();
  }
}

/*
 * Receives more: waits first (a reply is never there the moment a request
 * leaves, so a recv() first would mostly fail with EAGAIN), then takes
 * what has come, into dst when it is at least a buffer's worth.
 */
static ssize_t receive(struct wire_reader *r, unsigned char *dst, size_t len, int64_t deadline_ms) {
  for (;;) {
    if (spin_fd(r->fd, POLLIN, r->spin_us, deadline_ms) != 1 && wait_fd(r->fd, POLLIN, deadline_ms) != 1) return -1;
    ssize_t n = recv(r->fd, dst, len, 0);
    if (n > 0) return n;
    if (n == 0) return -1; /* the daemon closed the connection */
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
  }
}

static int read_all(struct wire_reader *r, unsigned char *dst, size_t len, int64_t deadline_ms) {
  while (len > 0) {
    if (r->at == r->end) {
      if (len >= sizeof r->buf) {
        ssize_t n = receive(r, dst, len, deadline_ms);
        if (n < 0) return -1;
        dst += n;
        len -= (size_t)n;
        continue;
      }
      ssize_t n = receive(r, r->buf, sizeof r->buf, deadline_ms);
      if (n < 0) return -1;
      r->at = 0;
      r->end = (size_t)n;
    }
    size_t take = r->end - r->at < len ? r->end - r->at : len;
    memcpy(dst, r->buf + r->at, take);
    r->at += take;
    dst += take;
    len -= take;
  }
  return 0;
}

/* ------------------------------------------------------------ reading */

int wire_read(struct wire_reader *r, struct wire_in *f, int64_t deadline_ms) {
  unsigned char head[4];
  memset(f, 0, sizeof *f);
  if (read_all(r, head, 4, deadline_ms) != 0) return -1;
  uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
  if (len < 1 || len > WIRE_MAX_FRAME) return -1;
  unsigned char *data = malloc(len);
  if (!data) return -1;
  if (read_all(r, data, len, deadline_ms) != 0) { free(data); return -1; }
  f->type = data[0];
  f->body = data;
  f->len = len;
  f->at = 1;
  return 0;
}

void wire_in_free(struct wire_in *f) {
  free(f->body);
  memset(f, 0, sizeof *f);
}

int wire_get_u8(struct wire_in *f, unsigned *v) {
  if (f->len - f->at < 1) return -1;
  *v = f->body[f->at++];
  return 0;
}

int wire_get_u32(struct wire_in *f, uint32_t *v) {
  if (f->len - f->at < 4) return -1;
  const unsigned char *p = f->body + f->at;
  *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  f->at += 4;
  return 0;
}

int wire_get_str(struct wire_in *f, char **s) {
  uint32_t n;
  if (wire_get_u32(f, &n) != 0 || n > WIRE_MAX_STRING || f->len - f->at < n) return -1;
  const unsigned char *p = f->body + f->at;
  if (memchr(p, 0, n) || !utf8_ok(p, n)) return -1;
  char *copy = malloc((size_t)n + 1);
  if (!copy) return -1;
  memcpy(copy, p, n);
  copy[n] = '\0';
  f->at += n;
  *s = copy;
  return 0;
}

int wire_get_end(const struct wire_in *f) {
  return f->at == f->len ? 0 : -1;
}
