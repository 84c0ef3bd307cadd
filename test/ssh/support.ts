/**
 * Test support for the SSH example: the stack's modules in a private folder
 * (pam_setenv.wasm built through the JS guest cache, pam_echo.wasm copied),
 * and Debian's real OpenSSH client driven by sshpass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { buildJsModule, GUEST_DIST_DIR, GUEST_MODULES_DIR, JS_CACHE_DIR } from '../../host/build/js.js';

/**
 * Puts the demo stack's modules into `dir`: pam_setenv.wasm (a JS guest, not
 * committed: componentize-js, about 15 s unless .cache/js-guests has it) and
 * pam_echo.wasm. A folder of their own, so no other test's rebuild of
 * guest-modules/dist is read half-written.
 */
export async function prepareModules(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await buildJsModule(join(GUEST_MODULES_DIR, 'pam_setenv'), join(dir, 'pam_setenv.wasm'), { cacheDir: JS_CACHE_DIR });
  copyFileSync(join(GUEST_DIST_DIR, 'pam_echo.wasm'), join(dir, 'pam_echo.wasm'));
  return dir;
}

export interface SshOptions {
  port: number;
  user: string;
  password: string;
  /** The remote command; none for a shell request. */
  command?: string;
  method?: 'password' | 'keyboard-interactive';
  /** More ssh arguments (-tt, -T, -o ...). */
  args?: string[];
  /** What the client's stdin gets (then closed); default nothing. */
  input?: string;
  /** Leave the client's stdin open (ssh keeps reading it) until ssh exits. */
  keepStdinOpen?: boolean;
  /** A known_hosts file to check the host key against; default: trust any (the key is new each run). */
  knownHosts?: string;
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `sshpass -e ssh ...` against 127.0.0.1: sshpass types the password at
 * ssh's own prompt (password or keyboard-interactive), as a user would. No
 * user config, no keys, no agent.
 */
export function ssh(o: SshOptions): { child: ChildProcess; done: Promise<SshResult>; stdout: () => string } {
  const hostKeys = o.knownHosts
    ? ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${o.knownHosts}`]
    : ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  const args = [
    '-e', 'ssh', '-F', '/dev/null', '-p', String(o.port), ...hostKeys,
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20', '-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no',
    '-o', `PreferredAuthentications=${o.method ?? 'password'}`, '-o', 'NumberOfPasswordPrompts=1',
    ...(o.args ?? []), `${o.user}@127.0.0.1`, ...(o.command === undefined ? [] : [o.command]),
  ];
  const started = performance.now();
  const child = spawn('sshpass', args, { env: { ...process.env, SSHPASS: o.password }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  if (o.keepStdinOpen) child.stdin!.write(o.input ?? '');
  else child.stdin!.end(o.input ?? '');
  const done = new Promise<SshResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
  return { child, done, stdout: () => stdout };
}

/** The pid of `parent`'s first child (sshpass runs ssh as its child). */
export function childPid(parent: number): number | undefined {
  const text = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
  return text ? Number(text.split(' ')[0]) : undefined;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

/** True while a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The lines of the demo's pam_exec session log for one user: `open_session` / `close_session`. */
export function sessionLogFor(file: string, user: string): string[] {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* no session yet */ }
  return text.split('\n').filter((l) => l.includes(` user=${user} `)).map((l) => l.split(' ')[1]);
}
