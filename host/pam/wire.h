/*
 * The module's side of docs/protocol.md: a buffer that builds the HOOK and
 * ANSWER frames, a bounded connection to the daemon, and a strict reader of
 * the daemon's frames. Everything here fails by returning -1: the caller
 * then answers with on_unavailable.
 */
#ifndef PAMWASM_WIRE_H
#define PAMWASM_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_VERSION 1
#define WIRE_MAX_FRAME 262144u
#define WIRE_MAX_STRING 65536u
#define WIRE_MAX_STRINGS 1024u

enum wire_type {
  WIRE_HOOK = 0x01,
  WIRE_ANSWER = 0x02,
  WIRE_MESSAGE = 0x10,
  WIRE_PROMPT = 0x11,
  WIRE_PUTENV = 0x12,
  WIRE_SYSLOG = 0x13,
  WIRE_SESSION = 0x14,
  WIRE_RESULT = 0x1f,
};

/* A frame being built: the 4-byte length and the type byte come first. */
struct wire_out {
  unsigned char *data;
  size_t len, cap;
  int failed; /* set by any append that would break a limit or run out of memory */
};

void wire_begin(struct wire_out *w, enum wire_type type);
void wire_u8(struct wire_out *w, unsigned v);
void wire_u32(struct wire_out *w, uint32_t v);
void wire_str(struct wire_out *w, const char *s);
/* Fills in the length prefix; -1 if the frame broke a limit. */
int wire_end(struct wire_out *w);
void wire_free(struct wire_out *w);

/* True if s is at most WIRE_MAX_STRING bytes of valid UTF-8 (a C string holds no NUL). */
int wire_string_ok(const char *s);

/* A deadline on CLOCK_MONOTONIC, in milliseconds. */
int64_t wire_now_ms(void);

/*
 * Connects to the UNIX socket at path before deadline_ms; the socket is
 * close-on-exec and non-blocking. Returns the fd or -1 with errno set.
 */
int wire_connect(const char *path, int64_t deadline_ms);

/* The connected peer's uid through SO_PEERCRED; -1 on failure. */
int wire_peer_uid(int fd, uid_t *uid);

/* Sends all of buf before deadline_ms, with MSG_NOSIGNAL; -1 on failure or timeout. */
int wire_send(int fd, const void *buf, size_t len, int64_t deadline_ms);

/* A frame read from the daemon: its type and its body (NUL-terminated copy). */
struct wire_in {
  unsigned type;
  unsigned char *body;
  size_t len, at;
};

/*
 * The bytes received from the daemon and not yet read as frames. The daemon
 * sends a hook's replies in one write, so one recv() usually brings them all.
 */
struct wire_reader {
  int fd;
  int64_t spin_us; /* how long to poll for a reply before sleeping in poll(2) */
  size_t at, end;
  unsigned char buf[4096];
};
void wire_reader_init(struct wire_reader *r, int fd, int64_t spin_us);


/* Reads one whole frame before deadline_ms; -1 on timeout, EOF, error or a bad length. */
int wire_read(struct wire_reader *r, struct wire_in *f, int64_t deadline_ms);
void wire_in_free(struct wire_in *f);

/* Field readers over a frame's body: -1 when a field runs past the end or breaks a rule. */
int wire_get_u8(struct wire_in *f, unsigned *v);
int wire_get_u32(struct wire_in *f, uint32_t *v);
/* A string field, copied into a fresh NUL-terminated buffer (free it); valid UTF-8, no NUL. */
int wire_get_str(struct wire_in *f, char **s);
/* 0 if every byte of the body was read. */
int wire_get_end(const struct wire_in *f);

#endif
