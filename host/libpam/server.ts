/**
 * Entry point of a libpam helper: a child process (fd 3 is a socket to the
 * host, JSON lines) or a worker thread (a MessagePort, woken through a
 * SharedArrayBuffer). Either way this side is fully synchronous: it reads a
 * request, runs it in libpam, and blocks on the host's answer whenever a
 * module converses. It never returns to its event loop until the host hangs up.
 *
 * Kept small and free of host-only imports so that it starts fast.
 */
import { readSync, writeSync } from 'node:fs';
import { isMainThread, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { PamwasmError } from '../errors/index.js';
import { DEFAULT_LIBPAM, loadLibpam } from './ffi.js';
import { NativePam } from './native.js';
import type { FromHelper, ToHelper } from './protocol.js';

interface Transport {
  /** Blocks until the next message; null when the host hung up. */
  recv(): ToHelper | null;
  send(msg: FromHelper): void;
}

/** The helper process's end of the socket the host opened as fd 3. */
function pipeTransport(fd: number): Transport {
  const buf = Buffer.alloc(64 * 1024);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let pending = '';
  return {
    recv() {
      for (;;) {
        const nl = pending.indexOf('\n');
        if (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          return JSON.parse(line) as ToHelper;
        }
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          // The socket is blocking on this side; EAGAIN would mean someone
          // made it non-blocking: wait a moment instead of spinning.
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') { Atomics.wait(sleeper, 0, 0, 1); continue; }
          if ((e as NodeJS.ErrnoException).code === 'EOF') return null;
          throw e;
        }
        if (n === 0) return null;
        pending += buf.toString('utf8', 0, n);
      }
    },
    send(msg) {
      const data = Buffer.from(JSON.stringify(msg) + '\n');
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off);
    },
  };
}

/**
 * The worker's end: the host posts on `port` and then bumps `signal[0]`, so
 * a wait on the value seen before checking the port cannot miss a message.
 */
function portTransport(port: MessagePort, signal: Int32Array): Transport {
  return {
    recv() {
      for (;;) {
        const seen = Atomics.load(signal, 0);
        const got = receiveMessageOnPort(port);
        if (got) return got.message as ToHelper | null;
        Atomics.wait(signal, 0, seen);
      }
    },
    send(msg) { port.postMessage(msg); },
  };
}

function wireError(e: unknown) {
  return e instanceof PamwasmError
    ? { code: e.code, message: e.message }
    : { code: 'ERR_PAM_HELPER', message: `libpam helper: ${(e as Error)?.stack ?? String(e)}` };
}

function serve(transport: Transport, libpamPath: string): void {
  let pam: NativePam;
  try {
    const lib = loadLibpam(libpamPath);
    pam = new NativePam(lib, (messages) => {
      transport.send({ t: 'conv', messages });
      const answer = transport.recv();
      if (answer === null) process.exit(0); // the host went away mid-conversation
      if (answer.t !== 'conv') throw new Error('libpam helper: expected a conversation answer');
      return answer.answers;
    });
    transport.send({ t: 'hello', info: { pid: process.pid, libpam: lib.path, hasStartConfdir: lib.hasStartConfdir } });
  } catch (e) {
    transport.send({ t: 'hello', error: wireError(e) });
    return;
  }
  for (;;) {
    const msg = transport.recv();
    if (msg === null) {
      pam.endAll();
      return;
    }
    if (msg.t !== 'req') continue; // a late answer to an abandoned conversation
    try {
      transport.send({ t: 'res', id: msg.id, value: pam.run(msg.req) });
    } catch (e) {
      transport.send({ t: 'res', id: msg.id, error: wireError(e) });
    }
  }
}

if (isMainThread) {
  serve(pipeTransport(3), process.argv[2] || DEFAULT_LIBPAM);
  process.exit(0);
} else {
  const { port, signal, libpam } = workerData as { port: MessagePort; signal: Int32Array; libpam: string };
  serve(portTransport(port, signal), libpam);
  port.close();
}
