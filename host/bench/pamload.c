/*
 * The bench's load generator: PROCS client processes, each running whole
 * libpam sessions (pam_start_confdir, pam_open_session, pam_close_session,
 * pam_end) one after another, all at once. It measures what sshd-like
 * applications see: sessions per second over all processes, and each
 * session's latency.
 *
 *   pamload CONFDIR SERVICE PROCS SESSIONS_PER_PROC
 *
 * Prints one JSON line: {"sessions", "failures", "wallUs", "p50Us", "p99Us"}.
 *
 * C rather than node: 32 node processes would spend more CPU in JS and
 * start-up than libpam spends in the sessions, and the native baseline must
 * measure libpam, not the client. Each process runs one untimed session
 * first (libpam loads its modules), then waits at a gate so that all start
 * together; the wall time runs from the gate's opening to the last exit.
 */
#define _GNU_SOURCE
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int refuse(int n, const struct pam_message **m, struct pam_response **r, void *data) {
  (void)n; (void)m; (void)r; (void)data;
  return PAM_CONV_ERR;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int session(const char *confdir, const char *service) {
  struct pam_conv conv = {refuse, NULL};
  pam_handle_t *h = NULL;
  int rc = pam_start_confdir(service, "alice", &conv, confdir, &h);
  if (rc != PAM_SUCCESS) return rc;
  rc = pam_open_session(h, 0);
  if (rc == PAM_SUCCESS) rc = pam_close_session(h, 0);
  pam_end(h, rc);
  return rc;
}

static int by_value(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: pamload CONFDIR SERVICE PROCS SESSIONS_PER_PROC\n");
    return 2;
  }
  const char *confdir = argv[1], *service = argv[2];
  int procs = atoi(argv[3]), each = atoi(argv[4]);
  if (procs <= 0 || each <= 0 || procs > 1024 || each > 1000000) {
    fprintf(stderr, "pamload: PROCS (1-1024) and SESSIONS_PER_PROC (1-1000000) must be positive numbers\n");
    return 2;
  }
  size_t n = (size_t)procs * (size_t)each;
  /* Latencies and failure counts, written by the children, read after they exit. */
  float *latency = mmap(NULL, n * sizeof *latency + (size_t)procs * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (latency == MAP_FAILED) { perror("pamload: mmap"); return 1; }
  int *failures = (int *)(latency + n);
  int gate[2];
  if (pipe(gate) != 0) { perror("pamload: pipe"); return 1; }
  for (int p = 0; p < procs; p++) {
    pid_t pid = fork();
    if (pid < 0) { perror("pamload: fork"); return 1; }
    if (pid == 0) {
      close(gate[1]);
      if (session(confdir, service) != PAM_SUCCESS) failures[p]++;
      char b;
      if (read(gate[0], &b, 1) < 0) _exit(1); /* EOF when the parent opens the gate */
      for (int i = 0; i < each; i++) {
        double t = now_us();
        if (session(confdir, service) != PAM_SUCCESS) failures[p]++;
        latency[(size_t)p * (size_t)each + (size_t)i] = (float)(now_us() - t);
      }
      _exit(0);
    }
  }
  close(gate[0]);
  /* Give the children time to finish their untimed session and reach the gate. */
  usleep(200000);
  double t0 = now_us();
  close(gate[1]);
  while (wait(NULL) > 0) {}
  double wall = now_us() - t0;
  int failed = 0;
  for (int p = 0; p < procs; p++) failed += failures[p];
  qsort(latency, n, sizeof *latency, by_value);
  printf("{\"sessions\": %zu, \"failures\": %d, \"wallUs\": %.0f, \"p50Us\": %.1f, \"p99Us\": %.1f}\n",
         n, failed, wall, latency[n / 2], latency[(n * 99) / 100]);
  return 0;
}
