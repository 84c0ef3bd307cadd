/**
 * Test support for `pamwasm daemon`: a real daemon in a child process on a
 * temp socket and registry, and a client that speaks the protocol through
 * the shared codec (host/daemon/protocol.ts), as pam_wasm.so does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameReader, type HookFrame, type ToModule } from '../../host/daemon/protocol.js';
import { Registry, type SessionRecord } from '../../host/sessions/registry.js';
import { packageRoot } from '../../host/wit/index.js';

export const BIN = join(packageRoot(), 'bin', 'pamwasm.js');
export const MODULES = join(packageRoot(), 'guest-modules', 'dist');
export const HOSTILE = join(packageRoot(), 'guest-modules', 'hostile', 'dist');

/** A temp folder for one test's socket, registry and stack files. */
export class DaemonDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'pamwasm-daemon-'));
  readonly socket = join(this.dir, 'd.sock');
  readonly registry = join(this.dir, 'reg', 'registry.db');
  private n = 0;

  /** Writes a stack file (mode 644) and returns its path. */
  stack(text: string): string {
    const p = join(this.dir, `s${++this.n}.stack`);
    writeFileSync(p, `${text.trim()}\n`, { mode: 0o644 });
    return p;
  }

  /** The registry's rows, read in this process. */
  rows(): SessionRecord[] {
    const r = new Registry(this.registry);
    try {
      return r.list();
    } finally {
      r.close();
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface DaemonChild {
  child: ChildProcess;
  /** Every log line so far. */
  log: string[];
  /** Resolves with the first log line matching `re` (now or later). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /**
   * Resolves once the daemon has logged the close of each session: a close
   * answers before its registry row is marked closed, and the log line is
   * written after that commit (docs/daemon.md, "Durability").
   */
  closesLogged(ids: (string | undefined)[]): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `pamwasm daemon` on the dir's socket and registry and waits until it serves. */
export async function startDaemonChild(d: DaemonDir, args: string[] = []): Promise<DaemonChild> {
  const child = spawn(process.execPath, [BIN, 'daemon', '--socket', d.socket, '--registry', d.registry, '--user', 'root', '--log', 'stderr', '--module-dir', MODULES, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, JOURNAL_STREAM: '' },
  });
  const log: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let rest = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      log.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp, ms = 20_000) => {
    const found = log.find((l) => re.test(l));
    if (found) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no log line like ${re} in ${ms} ms; log:\n${log.join('\n')}`)), ms);
      waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void exited.then((code) => reject(new Error(`daemon exited (${code}) before ${re}; log:\n${log.join('\n')}`)));
    });
  };
  await waitFor(/serving /);
  return {
    child, log, waitFor,
    closesLogged: async (ids) => { await Promise.all(ids.map((id) => waitFor(new RegExp(`close session=${id} `)))); },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface HookOutcome {
  /** The RESULT code; undefined when the daemon closed the connection without one. */
  code?: number;
  /** Every frame before RESULT, in order. */
  frames: ToModule[];
  sessionId?: string;
  puts: string[];
  messages: string[];
}

export interface HookInput {
  hook: 'open_session' | 'close_session';
  stack: string;
  sessionId?: string;
  items?: HookFrame['items'];
  env?: string[];
  flags?: number;
  /** Answers a PROMPT: text, or undefined for PAM_CONV_ERR. Called after `delayMs`. */
  answer?: (text: string) => string | undefined;
  answerDelayMs?: number;
}

/** One hook over one connection, as pam_wasm.so sends it. */
export function hook(socket: string, i: HookInput): Promise<HookOutcome> {
  const frame: HookFrame = {
    type: 'hook', hook: i.hook, flags: i.flags ?? 0, pid: process.pid, stack: i.stack, sessionId: i.sessionId ?? '', argv: [],
    items: i.items ?? { service: 'sshd', user: 'alice', tty: 'ssh', rhost: '192.0.2.1' }, env: i.env ?? [],
  };
  return new Promise((resolve, reject) => {
    const out: HookOutcome = { frames: [], puts: [], messages: [] };
    const s = connect(socket);
    const reader = new FrameReader('to-module');
    s.on('connect', () => s.write(encodeFrame(frame)));
    s.on('error', reject);
    s.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type === 'result') { out.code = f.code; continue; }
        out.frames.push(f);
        if (f.type === 'session') out.sessionId = f.id;
        if (f.type === 'putenv') out.puts.push(f.entry);
        if (f.type === 'message') out.messages.push(f.text);
        if (f.type === 'prompt') {
          const a = i.answer?.(f.text);
          setTimeout(() => s.write(encodeFrame(a === undefined ? { type: 'answer', code: 19, text: '' } : { type: 'answer', code: 0, text: a })), i.answerDelayMs ?? 0);
        }
      }
    });
    s.on('close', () => resolve(out));
  });
}

const CLIENT = fileURLToPath(new URL('./daemon-client.mjs', import.meta.url));

/**
 * An application in a process of its own (as `uid`, default this one's): it
 * opens `count` sessions on ttys pts/0.. and exits without closing them.
 * Resolves with its pid and each open's RESULT (undefined: refused).
 */
export function openFromApplication(socket: string, stack: string, count: number, o: { uid?: number } = {}): Promise<{ pid: number; codes: (number | undefined)[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { hook } = await import(${JSON.stringify(CLIENT)});
      const codes = [];
      for (let i = 0; i < ${count}; i++) codes.push(await hook(${JSON.stringify(socket)}, ${JSON.stringify(stack)}, 'pts/' + i));
      process.stdout.write(JSON.stringify(codes.map((c) => c ?? null)));
    `], { stdio: ['ignore', 'pipe', 'inherit'], ...(o.uid === undefined ? {} : { uid: o.uid, gid: o.uid }) });
    let out = '';
    child.stdout!.on('data', (c) => { out += c; });
    child.on('error', reject);
    child.on('exit', () => resolve({ pid: child.pid!, codes: (JSON.parse(out) as (number | null)[]).map((c) => c ?? undefined) }));
  });
}
