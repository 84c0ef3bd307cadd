/*
 * The bench's floor: a server on the daemon's socket that answers every
 * hook at once, with a session id for an open and PAM_SUCCESS, and runs
 * nothing. What pam_wasm.so costs through it is what its contract (a
 * connection per hook: connect, SO_PEERCRED, send, read, close) costs by
 * itself, whatever a daemon does; the bench prints it beside the daemon's
 * figures.
 *
 *   answerd SOCKET THREADS
 *
 * Each thread takes connections from the one listening socket. After an
 * answer it polls for the next connection for up to SPIN_US before it
 * sleeps in poll(2), as the daemon's workers and pam_wasm.so do (a sleeper's
 * wake-up on a virtual machine costs as much as the answer), so that the
 * floor is the least a server can cost, not the cost of its wake-ups. It
 * prints "ready" once listening and runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 262144u
#define SPIN_US 1000

static int64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int listener;

/* Reads exactly n bytes; 0 on success. */
static int read_all(int fd, unsigned char *buf, size_t n) {
  size_t at = 0;
  while (at < n) {
    ssize_t r = read(fd, buf + at, n - at);
    if (r <= 0) return -1;
    at += (size_t)r;
  }
  return 0;
}

static size_t put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
  return 4;
}

/* One connection: the HOOK frame, then SESSION (for an open) and RESULT 0 in one write. */
static void answer(int fd, unsigned char *buf, unsigned long serial) {
  if (read_all(fd, buf, 4) != 0) return;
  uint32_t len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
  if (len < 3 || len > MAX_FRAME || read_all(fd, buf, len) != 0 || buf[0] != 0x01) return;
  int open = buf[2] == 1;
  unsigned char out[128];
  size_t n = 0;
  if (open) {
    char id[48];
    int idlen = snprintf(id, sizeof id, "answerd-%lu", serial);
    n += put_u32(out + n, 1 + 4 + (uint32_t)idlen);
    out[n++] = 0x14;
    n += put_u32(out + n, (uint32_t)idlen);
    memcpy(out + n, id, (size_t)idlen);
    n += (size_t)idlen;
  }
  n += put_u32(out + n, 5);
  out[n++] = 0x1f;
  n += put_u32(out + n, 0);
  (void)!send(fd, out, n, MSG_NOSIGNAL);
}

static void *serve(void *arg) {
  unsigned long serial = (unsigned long)(uintptr_t)arg << 48;
  unsigned char *buf = malloc(MAX_FRAME);
  if (!buf) return NULL;
  int64_t answered = 0;
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      answer(fd, buf, serial++);
      close(fd);
      answered = now_us();
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) continue;
    if (now_us() - answered < SPIN_US) {
      sched_yield();
      continue;
    }
    struct pollfd p = {.fd = listener, .events = POLLIN};
    (void)poll(&p, 1, -1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: answerd SOCKET THREADS\n");
    return 2;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "answerd: socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 512) != 0) {
    perror("answerd: listen");
    return 1;
  }
  int threads = atoi(argv[2]);
  if (threads < 1) threads = 1;
  for (int i = 1; i < threads; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(uintptr_t)i) != 0) {
      perror("answerd: thread");
      return 1;
    }
  }
  printf("ready\n");
  fflush(stdout);
  serve((void *)(uintptr_t)0);
  return 0;
}
