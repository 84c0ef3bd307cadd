/**
 * Every koffi declaration of the daemon, written as the C prototypes of
 * `<sys/socket.h>`, `<sys/epoll.h>`, `<sys/eventfd.h>`, `<unistd.h>` and
 * `<syslog.h>`, with `_Out_` on output parameters. Node has no API for
 * SO_PEERCRED, epoll on a descriptor it does not own, or syslog(3); and a
 * stack worker serves its connections on raw descriptors (serve-loop.ts),
 * where a failed read is a return value, not a thrown error.
 *
 * @example
 *   peerCredentials(fd)   // { pid: 1234, uid: 0, gid: 0 }
 */
import { availableParallelism } from 'node:os';
import koffi from 'koffi';
import { startTimeOf } from '../sessions/proc-stat.js';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** `<syslog.h>`: LOG_PID option, LOG_AUTHPRIV facility (10 << 3). */
const LOG_PID = 0x01;
export const LOG_AUTHPRIV = 10 << 3;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const MSG_NOSIGNAL = 0x4000;

export const EAGAIN = 11;
const EINTR = 4;

let bound: {
  getsockopt: (fd: number, level: number, name: number, value: Buffer, len: Buffer) => number;
  open: (path: string, flags: number) => number;
  openlog: (ident: Buffer, option: number, facility: number) => void;
  syslog: (priority: number, format: string, ...args: unknown[]) => void;
  fcntl: (fd: number, cmd: number, ...args: unknown[]) => number;
  poll: (fds: Buffer, nfds: number, timeout: number) => number;
  close: (fd: number) => number;
  read: (fd: number, buf: Buffer, n: number) => number;
  pread: (fd: number, buf: Buffer, n: number, offset: number) => number;
  write: (fd: number, buf: Buffer, n: number) => number;
  send: (fd: number, buf: Buffer, n: number, flags: number) => number;
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  listen: (fd: number, backlog: number) => number;
  accept4: (fd: number, addr: null, len: null, flags: number) => number;
  epoll_create1: (flags: number) => number;
  epoll_ctl: (ep: number, op: number, fd: number, event: Buffer | null) => number;
  epoll_wait: (ep: number, events: Buffer, max: number, timeout: number) => number;
  eventfd: (init: number, flags: number) => number;
  sched_yield: () => number;
  flock: (fd: number, operation: number) => number;
} | undefined;

function libc() {
  if (!bound) {
    const lib = koffi.load('libc.so.6');
    bound = {
      getsockopt: lib.func('int getsockopt(int sockfd, int level, int optname, void *optval, void *optlen)'),
      open: lib.func('int open(const char *path, int flags)'),
      openlog: lib.func('void openlog(const void *ident, int option, int facility)'),
      syslog: lib.func('void syslog(int priority, const char *format, ...)'),
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
      poll: lib.func('int poll(_Inout_ void *fds, unsigned long nfds, int timeout)'),
      close: lib.func('int close(int fd)'),
      read: lib.func('long read(int fd, _Out_ void *buf, unsigned long count)'),
      pread: lib.func('long pread(int fd, _Out_ void *buf, unsigned long count, long offset)'),
      write: lib.func('long write(int fd, const void *buf, unsigned long count)'),
      send: lib.func('long send(int fd, const void *buf, unsigned long len, int flags)'),
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
      listen: lib.func('int listen(int fd, int backlog)'),
      accept4: lib.func('int accept4(int fd, void *addr, void *len, int flags)'),
      epoll_create1: lib.func('int epoll_create1(int flags)'),
      epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
      epoll_wait: lib.func('int epoll_wait(int epfd, _Out_ void *events, int maxevents, int timeout)'),
      eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
      sched_yield: lib.func('int sched_yield(void)'),
      flock: lib.func('int flock(int fd, int operation)'),
    };
  }
  return bound;
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Takes flock(2)'s exclusive lock of the open file `fd` without waiting:
 * false when another open file description holds it. The kernel lets go
 * when the last descriptor of that description closes, also at a kill -9.
 */
export const lockExclusive = (fd: number): boolean => libc().flock(fd, LOCK_EX | LOCK_NB) === 0;

/** The calling thread's errno after a call that failed. */
export const lastErrno = (): number => koffi.errno();

/** The process at the other end of a UNIX socket, as the kernel saw it at connect(). */
export interface PeerCredentials { pid: number; uid: number; gid: number }

/**
 * SO_PEERCRED of an accepted UNIX stream socket (`struct ucred`: pid, uid,
 * gid as three ints). Undefined when the call fails: the caller refuses the peer.
 */
export function peerCredentials(fd: number): PeerCredentials | undefined {
  // This thread's scratch: the buffers are read before the next call.
  credLength.writeUInt32LE(12, 0);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, credLength) !== 0 || credLength.readUInt32LE(0) !== 12) return undefined;
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}

const cred = Buffer.alloc(12);
const credLength = Buffer.alloc(4);
const O_RDONLY_CLOEXEC = 0o2000000;
const statBuffer = Buffer.alloc(1024);

/**
 * A process's start time (field 22 of /proc/PID/stat, clock ticks since
 * boot), which with its pid names it even after the pid is reused; undefined
 * when the process is gone. The same answer as the registry's
 * processIdentity, in three system calls and no Node fs work: the daemon
 * asks at every open.
 */
export function processStart(pid: number): string | undefined {
  const c = libc();
  const fd = c.open(`/proc/${pid}/stat`, O_RDONLY_CLOEXEC);
  if (fd < 0) return undefined;
  const n = c.read(fd, statBuffer, statBuffer.length);
  c.close(fd);
  if (n <= 0) return undefined;
  return startTimeOf(statBuffer.toString('latin1', 0, n));
}

/**
 * A listening UNIX stream socket at `path` (non-blocking, close-on-exec),
 * made here rather than by `net`: libuv would accept its connections on
 * the main thread, and the stack workers accept them themselves.
 */
export function listenUnix(path: string, backlog: number): number {
  const name = Buffer.from(path);
  // struct sockaddr_un: sa_family_t, then sun_path[108] with its NUL.
  if (name.length > 107) throw new Error(`the socket path ${path} is ${name.length} bytes, over the 107 a UNIX socket allows`);
  const addr = Buffer.alloc(2 + name.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket() failed: errno ${lastErrno()}`);
  if (c.bind(fd, addr, addr.length) !== 0 || c.listen(fd, backlog) !== 0) {
    const e = lastErrno();
    c.close(fd);
    throw Object.assign(new Error(`cannot listen on ${path}: errno ${e}${e === 98 ? ' (address in use)' : e === 13 ? ' (permission denied)' : ''}`), { errno: e });
  }
  return fd;
}

/** Makes a descriptor non-blocking (a socket systemd passed, blocking by default). */
export function setNonBlocking(fd: number): void {
  const flags = libc().fcntl(fd, F_GETFL, 'int', 0);
  if (flags >= 0) libc().fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK);
}

/** One connection from a non-blocking listening socket, non-blocking and close-on-exec; -1 when none waits (or on error). */
export function acceptConnection(fd: number): number {
  return libc().accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x1;
export const EPOLLEXCLUSIVE = 1 << 28;
/** struct epoll_event: u32 events, u64 data; packed on x86-64 only. */
const EVENT_BYTES = process.arch === 'x64' ? 12 : 16;
const DATA_AT = process.arch === 'x64' ? 4 : 8;

/** An epoll instance whose entries carry their descriptor as data. */
export class Epoll {
  readonly fd: number;
  private readonly events: Buffer;

  constructor(private readonly max = 32) {
    this.fd = libc().epoll_create1(EPOLL_CLOEXEC);
    if (this.fd < 0) throw new Error(`epoll_create1() failed: errno ${lastErrno()}`);
    this.events = Buffer.alloc(EVENT_BYTES * max);
  }

  add(fd: number, events: number): boolean {
    const e = Buffer.alloc(EVENT_BYTES);
    e.writeUInt32LE(events, 0);
    e.writeUInt32LE(fd, DATA_AT);
    return libc().epoll_ctl(this.fd, EPOLL_CTL_ADD, fd, e) === 0;
  }

  remove(fd: number): void {
    libc().epoll_ctl(this.fd, EPOLL_CTL_DEL, fd, Buffer.alloc(EVENT_BYTES));
  }

  /** Blocks up to `ms` (-1: no limit); returns the descriptors that are ready. */
  wait(ms: number): number[] {
    const n = libc().epoll_wait(this.fd, this.events, this.max, ms);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.events.readUInt32LE(i * EVENT_BYTES + DATA_AT));
    return out;
  }

  close(): void {
    libc().close(this.fd);
  }
}

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** A non-blocking eventfd: a thread's doorbell that epoll can wait on. */
export const newEventFd = (): number => libc().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

/** Rings an eventfd's bell. */
export function ring(fd: number): void {
  libc().write(fd, ONE, 8);
}

/** Empties an eventfd (reads its count). */
export function drain(fd: number): void {
  libc().read(fd, Buffer.alloc(8), 8);
}

function writeFd(fd: number, data: Buffer, off: number, n: number): number {
  return libc().write(fd, off === 0 ? data : data.subarray(off), n);
}

const POLLIN = 0x1;
const POLLOUT = 0x4;

const pollfd = Buffer.alloc(8);

/** poll(2) of one descriptor for `events`, at most `ms`: > 0 when it is ready, 0 on time-out, < 0 on EINTR. */
function pollOne(fd: number, events: number, ms: number): number {
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(events, 4);
  return libc().poll(pollfd, 1, ms);
}

/** Waits until `fd` can be read (`out`: written), an error or hang-up, or `ms` pass; false on time-out. */
export function waitFd(fd: number, out: boolean, ms: number): boolean {
  const until = Date.now() + ms;
  for (;;) {
    const left = Math.ceil(until - Date.now());
    if (left <= 0) return false;
    // A negative result is EINTR (a signal): poll again for what is left.
    if (pollOne(fd, out ? POLLOUT : POLLIN, Math.min(left, 2 ** 31 - 1)) > 0) return true;
  }
}

let loadavgFd = -2;
const loadavg = Buffer.alloc(128);
const CPUS = availableParallelism();

/**
 * Whether no thread waits for a CPU now: at most as many runnable threads
 * (the fourth field of /proc/loadavg, this one among them) as CPUs this
 * process may run on. A thread that polls then takes a CPU from no one.
 * One pread(2) of a descriptor kept open.
 */
export function noneWaitsForCpu(): boolean {
  if (loadavgFd === -2) loadavgFd = libc().open('/proc/loadavg', O_RDONLY_CLOEXEC);
  if (loadavgFd < 0) return false;
  const n = libc().pread(loadavgFd, loadavg, loadavg.length, 0);
  if (n <= 0) return false;
  let at = 0;
  for (let field = 0; field < 3; field++) at = loadavg.indexOf(0x20, at) + 1;
  let running = 0;
  for (let c = loadavg[at]; c >= 0x30 && c <= 0x39 && at < n; c = loadavg[++at]) running = running * 10 + c - 0x30;
  return at > 0 && running <= CPUS;
}

/**
 * Asks `ready` without sleeping, yielding the CPU between asks (sched_yield:
 * any other thread runnable on this CPU goes first), for up to `us`
 * microseconds, and only while no thread waits for a CPU: its first answer
 * other than undefined, or undefined.
 */
export function pollFor<T>(us: number, ready: () => T | undefined): T | undefined {
  if (us <= 0 || !noneWaitsForCpu()) return undefined;
  const until = performance.now() + us / 1000;
  do {
    const got = ready();
    if (got !== undefined) return got;
    libc().sched_yield();
  } while (performance.now() < until);
  return undefined;
}

/** Polls `fd` for input without sleeping (pollFor), for up to `us` microseconds: true as soon as it can be read. */
export const spinReadable = (fd: number, us: number): boolean => pollFor(us, () => (pollOne(fd, POLLIN, 0) > 0 ? true : undefined)) ?? false;

/** Whether `fd` can be read now (a listening socket: a connection waits), without waiting. */
export function readable(fd: number): boolean {
  return pollOne(fd, POLLIN, 0) > 0;
}

/**
 * Writes all of `data` to a non-blocking descriptor, waiting while its
 * buffer is full, at most `ms` in all. False when the peer is gone or too
 * slow. A socket is written with MSG_NOSIGNAL: a peer gone is a false, not
 * a SIGPIPE. `maybeSocket` false: the caller knows `fd` is none (a file or a
 * pipe), and it is written without trying send(2) first.
 */
export function writeAllSync(fd: number, data: Buffer, ms: number, maybeSocket = true): boolean {
  const until = Date.now() + ms;
  let off = 0;
  let socket = maybeSocket;
  while (off < data.length) {
    let n = socket ? libc().send(fd, off === 0 ? data : data.subarray(off), data.length - off, MSG_NOSIGNAL) : writeFd(fd, data, off, data.length - off);
    if (n < 0 && socket && lastErrno() === 88 /* ENOTSOCK: stderr, a pipe or a file */) {
      socket = false;
      n = writeFd(fd, data, off, data.length - off);
    }
    if (n >= 0) off += n;
    else {
      const e = lastErrno();
      if (e === EINTR) continue;
      if (e !== EAGAIN || !waitFd(fd, true, until - Date.now())) return false;
    }
  }
  return true;
}

const readBuffer = Buffer.allocUnsafe(65536);

/**
 * Reads what a non-blocking descriptor holds, waiting up to `ms` for it:
 * bytes (a copy), null at end of stream or error, undefined on time-out.
 */
export function readSomeSync(fd: number, ms: number): Buffer | null | undefined {
  const until = Date.now() + ms;
  for (;;) {
    const n = libc().read(fd, readBuffer, readBuffer.length);
    if (n > 0) return Buffer.from(readBuffer.subarray(0, n));
    if (n === 0) return null;
    const e = lastErrno();
    if (e === EINTR) continue;
    if (e !== EAGAIN) return null;
    if (!waitFd(fd, false, until - Date.now())) return undefined;
  }
}

/**
 * Closes a descriptor this thread owns. close(2) itself: fs.closeSync of a
 * descriptor fs did not open in this thread costs a process warning each time.
 */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** Kept alive for as long as the process: openlog keeps the pointer, not a copy. */
let ident: Buffer | undefined;

/** openlog(3) with `name`, the pid on every line, at LOG_AUTHPRIV (as PAM modules log). */
export function openSyslog(name: string): void {
  ident = Buffer.from(`${name}\0`);
  libc().openlog(ident, LOG_PID, LOG_AUTHPRIV);
}

/** syslog(3) one line at `priority` (0 LOG_EMERG .. 7 LOG_DEBUG). */
export function syslogLine(priority: number, text: string): void {
  libc().syslog(LOG_AUTHPRIV | priority, '%s', 'str', text);
}
