/**
 * Every koffi declaration of the daemon, written as the C prototypes of
 * `<sys/socket.h>` and `<syslog.h>`, with `_Out_` on output parameters.
 * Node has no API for either: `net` does not expose SO_PEERCRED, and Node
 * has no syslog(3).
 *
 * @example
 *   peerCredentials(socket)   // { pid: 1234, uid: 0, gid: 0 }
 */
import koffi from 'koffi';
import { readSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** `<syslog.h>`: LOG_PID option, LOG_AUTHPRIV facility (10 << 3). */
const LOG_PID = 0x01;
export const LOG_AUTHPRIV = 10 << 3;

let bound: {
  getsockopt: (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;
  openlog: (ident: Buffer, option: number, facility: number) => void;
  syslog: (priority: number, format: string, ...args: unknown[]) => void;
  fcntl: (fd: number, cmd: number, ...args: unknown[]) => number;
  poll: (fds: Buffer, nfds: number, timeout: number) => number;
  close: (fd: number) => number;
} | undefined;

function libc() {
  if (!bound) {
    const lib = koffi.load('libc.so.6');
    bound = {
      getsockopt: lib.func('int getsockopt(int sockfd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
      openlog: lib.func('void openlog(const void *ident, int option, int facility)'),
      syslog: lib.func('void syslog(int priority, const char *format, ...)'),
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
      poll: lib.func('int poll(_Inout_ void *fds, unsigned long nfds, int timeout)'),
      close: lib.func('int close(int fd)'),
    };
  }
  return bound;
}

/** The process at the other end of a UNIX socket, as the kernel saw it at connect(). */
export interface PeerCredentials { pid: number; uid: number; gid: number }

/**
 * SO_PEERCRED of an accepted UNIX stream socket (`struct ucred`: pid, uid,
 * gid as three ints). Undefined when the socket has no fd (already closed)
 * or the call fails: the caller refuses the peer.
 */
export function peerCredentials(socket: Socket): PeerCredentials | undefined {
  const fd = fdOf(socket);
  if (fd === undefined) return undefined;
  const buf = Buffer.alloc(12);
  const len = [12];
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0 || len[0] !== 12) return undefined;
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/**
 * libuv's descriptor of an accepted socket: `_handle.fd`, private, but the
 * only way to it from JavaScript.
 */
export function fdOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

const F_DUPFD_CLOEXEC = 1030;

/** A close-on-exec duplicate of `fd` (the same connection), or -1. */
export function dupFd(fd: number): number {
  return libc().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
}

const POLLIN = 0x1;
const POLLOUT = 0x4;

/** Waits until `fd` can be read (`out`: written), an error or hang-up, or `ms` pass; false on time-out. */
export function waitFd(fd: number, out: boolean, ms: number): boolean {
  const p = Buffer.alloc(8);
  p.writeInt32LE(fd, 0);
  p.writeInt16LE(out ? POLLOUT : POLLIN, 4);
  const until = Date.now() + ms;
  for (;;) {
    const left = Math.ceil(until - Date.now());
    if (left <= 0) return false;
    // A negative result is EINTR (a signal): poll again for what is left.
    if (libc().poll(p, 1, Math.min(left, 2 ** 31 - 1)) > 0) return true;
  }
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Writes all of `data` to a non-blocking socket, waiting while its buffer
 * is full, at most `ms` in all. False when the peer is gone or too slow.
 */
export function writeAllSync(fd: number, data: Buffer, ms: number): boolean {
  const until = Date.now() + ms;
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      if (errno(e) !== 'EAGAIN' || !waitFd(fd, true, until - Date.now())) return false;
    }
  }
  return true;
}

/** Reads what a non-blocking socket holds, waiting up to `ms` for it: bytes, null at end of stream or error, undefined on time-out. */
export function readSomeSync(fd: number, ms: number): Buffer | null | undefined {
  const buf = Buffer.allocUnsafe(65536);
  const until = Date.now() + ms;
  for (;;) {
    try {
      const n = readSync(fd, buf);
      return n === 0 ? null : buf.subarray(0, n);
    } catch (e) {
      if (errno(e) !== 'EAGAIN') return null;
      if (!waitFd(fd, false, until - Date.now())) return undefined;
    }
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
