// A minimal application for the daemon tests, run as its own process: it
// opens sessions through the built codec (dist/) and exits.
import { connect } from 'node:net';
import { encodeFrame, FrameReader } from '../../dist/host/daemon/protocol.js';

export function hook(socket, stack, tty) {
  return new Promise((resolve) => {
    const s = connect(socket, () => s.write(encodeFrame({
      type: 'hook', hook: 'open_session', flags: 0, pid: process.pid, stack, sessionId: '', argv: [],
      items: { service: 'sshd', user: 'alice', tty }, env: [],
    })));
    const r = new FrameReader('to-module');
    let code;
    s.on('data', (b) => { for (const f of r.push(b)) if (f.type === 'result') code = f.code; });
    // A refused peer sees its connection closed (EPIPE or ECONNRESET): no RESULT.
    s.on('error', () => {});
    s.on('close', () => resolve(code));
  });
}
