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
} | undefined;

function libc() {
  if (!bound) {
    const lib = koffi.load('libc.so.6');
    bound = {
      getsockopt: lib.func('int getsockopt(int sockfd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
      openlog: lib.func('void openlog(const void *ident, int option, int facility)'),
      syslog: lib.func('void syslog(int priority, const char *format, ...)'),
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
  // `_handle.fd` is libuv's descriptor of the accepted socket: private, but
  // the only way to it from JavaScript.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const buf = Buffer.alloc(12);
  const len = [12];
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0 || len[0] !== 12) return undefined;
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
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
