/**
 * A stand-in for `pamwasm daemon` in the shim tests, written with the
 * protocol codec: it listens on a UNIX socket, decodes each connection's
 * HOOK frame, records it with the raw bytes received, and lets the test's
 * script answer (frames, raw bytes, silence).
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  FrameReader, encodeFrame, type AnswerFrame, type HookFrame, type ToModule,
} from '../../host/daemon/protocol.js';

/** One connection as the script sees it. */
export class FakePeer {
  private answers: AnswerFrame[] = [];
  private waiting: ((a: AnswerFrame) => void) | undefined;
  constructor(private readonly socket: Socket) {}

  send(...frames: ToModule[]): void { for (const f of frames) this.socket.write(encodeFrame(f)); }
  sendRaw(bytes: Buffer): void { this.socket.write(bytes); }
  /** Ends the connection after what was written. */
  end(): void { this.socket.end(); }
  /** The next ANSWER frame (the module sends one after each PROMPT). */
  answer(): Promise<AnswerFrame> {
    const a = this.answers.shift();
    return a ? Promise.resolve(a) : new Promise((resolve) => { this.waiting = resolve; });
  }
  received(a: AnswerFrame): void {
    if (this.waiting) { const w = this.waiting; this.waiting = undefined; w(a); } else this.answers.push(a);
  }
}

export type Script = (request: HookFrame, peer: FakePeer) => void | Promise<void>;

export interface Received {
  request: HookFrame | null;
  /** Every byte the module sent on this connection. */
  bytes: Buffer;
  /** A ProtocolError the module's bytes raised, if any. */
  error: unknown;
}

export class FakeDaemon {
  /** What each connection brought, in order. */
  readonly connections: Received[] = [];
  /** Answers each HOOK; default: RESULT PAM_SUCCESS. */
  script: Script = (_, peer) => { peer.send({ type: 'result', code: 0 }); peer.end(); };
  private readonly sockets = new Set<Socket>();

  private constructor(readonly path: string, private readonly server: Server) {}

  static async start(path: string): Promise<FakeDaemon> {
    const server = createServer();
    const daemon = new FakeDaemon(path, server);
    server.on('connection', (s) => daemon.serve(s));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
    return daemon;
  }

  get requests(): HookFrame[] { return this.connections.flatMap((c) => c.request ? [c.request] : []); }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => { /* the module may close first */ });
    const seen: Received = { request: null, bytes: Buffer.alloc(0), error: null };
    this.connections.push(seen);
    const reader = new FrameReader('to-daemon');
    const peer = new FakePeer(socket);
    socket.on('data', (chunk: Buffer) => {
      seen.bytes = Buffer.concat([seen.bytes, chunk]);
      try {
        for (const frame of reader.push(chunk)) {
          if (frame.type === 'hook' && !seen.request) {
            seen.request = frame;
            void Promise.resolve(this.script(frame, peer)).catch((e) => { seen.error = e; socket.destroy(); });
          } else if (frame.type === 'answer') peer.received(frame);
          else throw new Error(`unexpected ${frame.type} frame`);
        }
      } catch (e) {
        seen.error = e;
        socket.destroy();
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
