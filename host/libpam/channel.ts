/**
 * The host's end of a libpam helper: a child process or a worker thread.
 * Both carry the messages of protocol.ts; only how they travel differs.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { FromHelper, ToHelper } from './protocol.js';

/** How a helper ended: a signal or exit status, or an error in the thread. */
export interface HelperExit { signal: string | null; code: number | null; error?: Error }

export interface ChannelEvents {
  message(msg: FromHelper): void;
  exit(how: HelperExit): void;
}

export interface Channel {
  readonly kind: 'process' | 'thread';
  /** The helper's pid (the host's own pid for a thread). */
  readonly pid: number;
  send(msg: ToHelper): void;
  /** Hangs up: the helper finishes its current call, then exits. */
  close(): void;
  /** Ends the helper at once. A thread blocked in libpam cannot be stopped. */
  kill(): void;
  /** Lets the host's event loop exit while the helper is idle. */
  setRef(ref: boolean): void;
}

// After the helper exits, its last lines may still be in the socket; wait for
// them, but not forever: a module's daemon child may hold the socket open.
const DRAIN_MS = 100;

// The helper's JS heap stays tiny (a few MB); capping the young generation
// keeps V8 from growing it in steps as calls go by, so the helper's RSS stays
// flat and small.
const HELPER_NODE_FLAGS = ['--max-semi-space-size=1'];

export function processChannel(entry: string, libpam: string, stdio: 'inherit' | 'ignore', on: ChannelEvents): Channel {
  const child = spawn(process.execPath, [...HELPER_NODE_FLAGS, entry, libpam], {
    // stdin is closed; stdout/stderr are shared with the host so that what a
    // module prints (pam_exec without `stdout`) does not touch the protocol on fd 3.
    stdio: ['ignore', stdio, stdio, 'pipe'],
    // No --inspect or loader flags from the host: the helper is plain Node.
    env: { ...process.env, NODE_OPTIONS: undefined },
  });
  const socket = child.stdio[3] as Socket;
  let pending = '';
  let socketClosed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      on.message(JSON.parse(line) as FromHelper);
    }
  });
  socket.on('error', () => { /* reported through the child's exit */ });
  const closed = new Promise<void>((resolve) => socket.on('close', () => { socketClosed = true; resolve(); }));
  let exited = false;
  const exit = (how: HelperExit) => {
    if (exited) return;
    exited = true;
    if (socketClosed) { on.exit(how); return; }
    const timer = setTimeout(() => on.exit(how), DRAIN_MS);
    void closed.then(() => { clearTimeout(timer); on.exit(how); });
  };
  child.on('exit', (code, signal) => exit({ code, signal }));
  child.on('error', (error) => exit({ code: null, signal: null, error }));
  return {
    kind: 'process',
    pid: child.pid ?? -1,
    send: (msg) => { socket.write(JSON.stringify(msg) + '\n'); },
    close: () => { socket.end(); },
    kill: () => { child.kill('SIGKILL'); },
    setRef: (ref) => {
      if (ref) { child.ref(); socket.ref(); } else { child.unref(); socket.unref(); }
    },
  };
}

export function threadChannel(entry: string, libpam: string, on: ChannelEvents): Channel {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(entry, { workerData: { port: port2, signal, libpam }, transferList: [port2] });
  const wake = () => { Atomics.add(signal, 0, 1); Atomics.notify(signal, 0); };
  port1.on('message', (msg: FromHelper) => on.message(msg));
  let error: Error | undefined;
  worker.on('error', (e) => { error = e; });
  worker.on('exit', (code) => {
    // Messages posted just before the thread ended are still queued: let the
    // port deliver them first.
    setImmediate(() => { port1.close(); on.exit({ code, signal: null, error }); });
  });
  return {
    kind: 'thread',
    pid: process.pid,
    send: (msg) => { port1.postMessage(msg); wake(); },
    close: () => { port1.postMessage(null); wake(); },
    kill: () => { void worker.terminate(); },
    setRef: (ref) => {
      if (ref) { worker.ref(); port1.ref(); } else { worker.unref(); port1.unref(); }
    },
  };
}
