/**
 * The daemon's socket: one connection per hook (docs/protocol.md). A peer
 * is served only when SO_PEERCRED says its uid is allowed; the first frame
 * must be a HOOK, and nothing may follow it before the worker's reply.
 * Anything else, a malformed frame included, closes the connection; the
 * module then returns its on_unavailable code. Once its HOOK is read, the
 * connection's descriptor goes to a stack worker, which alone talks to the
 * module from then on (an ANSWER only right after a PROMPT: conn.ts). A
 * hook already running finishes (its session stays recorded), whatever
 * happens to its connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { dupFd, fdOf, peerCredentials, readSomeSync } from './libc.js';
import { FrameReader } from './protocol.js';
import type { DaemonService } from './service.js';

export interface ServerOptions {
  /** Peer uids served besides root's. */
  allowUids: ReadonlySet<number>;
  /** How long a connection may take to send its HOOK frame. */
  requestMs: number;
  /** Called for a refused peer (uid not allowed, or a malformed frame). */
  onRefused?: (why: string) => void;
}

/**
 * The server, bound before the service exists (as root, before the drop):
 * connections that come before `service` resolves wait for it.
 */
export function createDaemonServer(service: Promise<DaemonService>, o: ServerOptions): Server {
  let ready: DaemonService | undefined;
  void service.then((s) => { ready = s; });
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (ready) serve(socket, ready, o);
    else void service.then((s) => serve(socket, s, o));
  });
  server.on('error', (e) => o.onRefused?.(`socket error: ${e.message}`));
  return server;
}

function serve(socket: Socket, service: DaemonService, o: ServerOptions): void {
  const cred = peerCredentials(socket);
  socket.on('error', () => { /* a module that went away before its HOOK */ });
  if (!cred || (cred.uid !== 0 && !o.allowUids.has(cred.uid))) {
    o.onRefused?.(cred ? `peer uid ${cred.uid} pid ${cred.pid} is not allowed` : 'peer credentials unavailable');
    socket.destroy();
    return;
  }
  const reader = new FrameReader('to-daemon');
  const stop = (why?: string) => {
    if (why) o.onRefused?.(`pid ${cred.pid}: ${why}`);
    socket.destroy();
  };
  /** Takes bytes of the request; true once the connection is handed over or refused. */
  const take = (chunk: Buffer): boolean => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (e) {
      stop(`malformed frame: ${(e as Error).message}`);
      return true;
    }
    if (frames.length === 0) return false;
    const [f] = frames;
    if (f.type !== 'hook' || frames.length > 1 || reader.pending > 0) {
      stop(`a ${frames.find((x, i) => i > 0 || x.type !== 'hook')?.type ?? 'partial'} frame out of turn`);
      return true;
    }
    // The worker gets its own descriptor of the connection: libuv's goes with this socket.
    const fd = fdOf(socket);
    const own = fd === undefined ? -1 : dupFd(fd);
    socket.destroy();
    if (own < 0) o.onRefused?.(`pid ${cred.pid}: the connection could not be handed to a worker`);
    // The kernel's pid, not the frame's: the frame's is only what the peer says.
    else service.hook(f, own, cred.pid);
    return true;
  };
  // The module sends its HOOK right after connect(), so it has mostly come
  // by now: one read, without setting up a stream. Otherwise the stream waits for it.
  const fd = fdOf(socket);
  const first = fd === undefined ? null : readSomeSync(fd, 0);
  if (first === null) return stop();
  if (first && take(first)) return;
  socket.setTimeout(o.requestMs, () => stop('no request in time'));
  socket.on('end', () => stop());
  socket.on('data', (chunk: Buffer) => { take(chunk); });
  socket.resume();
}
