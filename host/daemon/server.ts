/**
 * The daemon's socket: one connection per hook (docs/protocol.md). A peer
 * is served only when SO_PEERCRED says its uid is allowed; the first frame
 * must be a HOOK, and after that only an ANSWER right after a PROMPT.
 * Anything else, a malformed frame included, closes the connection; the
 * module then returns its on_unavailable code. A hook already running
 * finishes (its session stays recorded), whatever happens to its connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { PAM } from '../codes/index.js';
import { peerCredentials } from './libc.js';
import { encodeFrame, FrameReader, type HookFrame, type PromptStyleName, type ToModule } from './protocol.js';
import type { DaemonService, HookReply } from './service.js';

export interface ServerOptions {
  /** Peer uids served besides root's. */
  allowUids: ReadonlySet<number>;
  /** How long a connection may take to send its HOOK frame. */
  requestMs: number;
  /** Called for a refused peer (uid not allowed, or a malformed frame). */
  onRefused?: (why: string) => void;
}

const CONV_FAILED = { code: PAM.CONV_ERR.number, text: '' };

/**
 * The server, bound before the service exists (as root, before the drop):
 * connections that come before `service` resolves wait for it.
 */
export function createDaemonServer(service: Promise<DaemonService>, o: ServerOptions): Server {
  let ready: DaemonService | undefined;
  void service.then((s) => { ready = s; });
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (ready) serve(socket, ready, o);
    else void service.then((s) => serve(socket, s, o));
  });
  server.on('error', (e) => o.onRefused?.(`socket error: ${e.message}`));
  return server;
}

function serve(socket: Socket, service: DaemonService, o: ServerOptions): void {
  const cred = peerCredentials(socket);
  socket.on('error', () => { /* a module that went away: its hook still completes */ });
  if (!cred || (cred.uid !== 0 && !o.allowUids.has(cred.uid))) {
    o.onRefused?.(cred ? `peer uid ${cred.uid} pid ${cred.pid} is not allowed` : 'peer credentials unavailable');
    socket.destroy();
    return;
  }
  const reader = new FrameReader('to-daemon');
  let started = false;
  let waiting: ((a: { code: number; text: string }) => void) | undefined;
  const stop = (why?: string) => {
    if (why) o.onRefused?.(`pid ${cred.pid}: ${why}`);
    socket.destroy();
    const w = waiting;
    waiting = undefined;
    w?.(CONV_FAILED);
  };
  socket.setTimeout(o.requestMs, () => { if (!started) stop('no request in time'); });
  socket.on('close', () => stop());
  // A module that stops sending after its HOOK still gets the RESULT (half-close);
  // one that stops before it, or while a prompt waits for its ANSWER, is done.
  socket.on('end', () => { if (!started || waiting) stop(); });
  socket.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (e) {
      stop(`malformed frame: ${(e as Error).message}`);
      return;
    }
    for (const f of frames) {
      if (!started && f.type === 'hook') {
        started = true;
        socket.setTimeout(0);
        run(f, cred.pid, socket, service, (w) => { waiting = w; });
      } else if (waiting && f.type === 'answer') {
        const w = waiting;
        waiting = undefined;
        w({ code: f.code, text: f.text });
      } else {
        stop(`a ${f.type} frame out of turn`);
        return;
      }
    }
  });
}

function run(f: HookFrame, pid: number, socket: Socket, service: DaemonService, onPrompt: (w: (a: { code: number; text: string }) => void) => void): void {
  // Frames wait in the socket's buffer until a prompt or the RESULT: one
  // write per hook, mostly (each write is a system call and a wake-up of the module).
  socket.cork();
  const send = (frame: ToModule) => { if (!socket.destroyed) socket.write(encodeFrame(frame)); };
  const reply: HookReply = {
    send,
    prompt: (style: PromptStyleName, text: string) => new Promise((resolve) => {
      if (socket.destroyed) return resolve(CONV_FAILED);
      onPrompt(resolve);
      send({ type: 'prompt', style, text });
      socket.uncork();
      socket.cork();
    }),
  };
  // The kernel's pid, not the frame's: the frame's is only what the peer says.
  void service.hook(f, pid, reply).then((code) => {
    if (socket.destroyed) return;
    socket.end(encodeFrame({ type: 'result', code }));
    // A module that never closes its side does not hold the connection.
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

