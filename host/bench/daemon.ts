/**
 * pam_wasm.so and `pamwasm daemon`, measured through libpam
 * (pam_start_confdir) against native pam_permit.so, in one run:
 *  - open+close on one handle, 1-line C stack (koffi, this thread);
 *  - a whole session (start+open+close+end), 3-line C stack;
 *  - the same open+close through pam_exec.so and `pamwasm exec`;
 *  - 32 client processes running whole 3-line sessions at once (pamload.c):
 *    sessions per second against native, and each session's p99 latency;
 *  - the daemon's RSS per held (open) session, of a 3-line C stack and of
 *    the 12 MB JS module pam_setenv.wasm;
 *  - the floor under the first rows and the throughput: the same through
 *    pam_wasm.so against answerd.c, a server that answers every hook at once
 *    and runs nothing (what the module's connection per hook costs alone).
 * The daemon runs in a child process (as root, --user root): the module
 * blocks this thread while it waits for the daemon's answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GUEST_DIST_DIR } from '../build/js.js';
import { PAM_MODULE } from '../build/pam.js';
import { packageRoot } from '../wit/index.js';
import { NativePam, repeatLine, type BenchContext } from './fixtures.js';
import { BIN, median, timeSync, type Repeat } from './measure.js';
import { buildBenchProgram, buildPamload, perSecond, runPamload } from './pamload.js';

/** Client processes of the throughput and latency rows. */
export const CLIENTS = 32;

/**
 * Starts `pamwasm daemon` with its log (one line per session event) going to
 * a file: read from a pipe, it would stall whenever this thread sits in a
 * synchronous libpam call and the pipe fills.
 */
async function startDaemon(socket: string, registry: string, logFile: string): Promise<ChildProcess> {
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'pamwasm.js'), 'daemon', '--socket', socket, '--registry', registry,
    '--user', 'root', '--log', 'stderr', '--module-dir', GUEST_DIST_DIR], { stdio: ['ignore', 'ignore', log] });
  closeSync(log);
  for (let waited = 0; !readFileSync(logFile, 'utf8').includes('serving '); waited += 50) {
    if (child.exitCode !== null || waited > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`pamwasm daemon did not start (${child.exitCode ?? 'no answer in 60 s'}): ${readFileSync(logFile, 'utf8').slice(0, 2000)}`);
    }
    await sleep(50);
  }
  return child;
}

/** Compiles answerd.c into `dir` and starts it on `socket` with two threads; resolves once it listens. */
async function startAnswerd(dir: string, socket: string): Promise<ChildProcess> {
  const program = buildBenchProgram(dir, 'answerd', ['-pthread']);
  const child = spawn(program, [socket, '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  for (let waited = 0; !out.includes('ready'); waited += 20) {
    if (child.exitCode !== null || waited > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`answerd did not start (${child.exitCode ?? 'no answer in 10 s'}): ${out.slice(0, 2000)}`);
    }
    await sleep(20);
  }
  return child;
}

/** A process's resident set, in KiB (/proc/PID/status VmRSS). */
function rssKib(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

export async function daemonGroup(ctx: BenchContext): Promise<void> {
  const { dir, results, notes, quick } = ctx;
  if (!existsSync(PAM_MODULE)) { notes.daemon = 'dist/pam_wasm.so is not built (needs gcc and libpam0g-dev)'; return; }
  if (process.getuid?.() !== 0) { notes.daemon = 'needs root (the daemon binds and checks peers as root)'; return; }
  const socket = join(dir.dir, 'daemon.sock');
  ctx.progress('daemon: starting pamwasm daemon');
  const child = await startDaemon(socket, join(dir.dir, 'daemon-registry.db'), join(dir.dir, 'daemon.log'));
  const native = new NativePam(dir.dir);
  let answerd: ChildProcess | undefined;
  try {
    ctx.progress('daemon: starting answerd, the floor');
    const answerSocket = join(dir.dir, 'answerd.sock');
    answerd = await startAnswerd(dir.dir, answerSocket);
    const shim = (stack: string, on = socket) => `session required ${PAM_MODULE} stack=${stack} socket=${on} daemon_user=root`;
    const permit1 = dir.service('daemon-native1', ['session required pam_permit.so']);
    const permit3 = dir.service('daemon-native3', repeatLine('session required pam_permit.so', 3));
    const shim1 = dir.service('daemon-shim1', [shim(dir.stack('daemon1', ['session required pam_permit.wasm']))]);
    const shim3 = dir.service('daemon-shim3', [shim(dir.stack('daemon3', repeatLine('session required pam_permit.wasm', 3)))]);
    const floor1 = dir.service('daemon-floor1', [shim(dir.stack('floor1', ['session required pam_permit.wasm']), answerSocket)]);
    const floor3 = dir.service('daemon-floor3', [shim(dir.stack('floor3', repeatLine('session required pam_permit.wasm', 3)), answerSocket)]);
    const shimJs = dir.service('daemon-shimjs', [shim(dir.stack('daemonjs', ['session required pam_setenv.wasm GREETING=hello-%u']))]);
    const exec1 = dir.service('daemon-exec1', [`session required pam_exec.so ${process.execPath} ${BIN} exec --stack ${dir.stack('daemon-exec1', ['session required pam_permit.wasm'])} `
      + `--registry ${join(dir.dir, 'exec-registry.db')} --cache-dir ${join(dir.dir, 'exec-cache')}`]);
    const fast = quick ? { batch: 200, batches: 9 } : { batch: 500, batches: 21 };
    const slow = quick ? { batch: 50, batches: 9 } : { batch: 200, batches: 21 };
    const openClose = (service: string, repeat: Repeat) => {
      const h = native.start(service);
      try { return timeSync(() => { native.open(h); native.close(h); }, repeat); } finally { native.end(h); }
    };
    // A fresh daemon runs its first thousands of sessions slower: its
    // workers' code is still being compiled and optimised (TurboFan took a
    // quarter of the daemon's CPU after 2,500 sessions, 2% after 10,000).
    // The figures are of a daemon that has served a while, as a real one has.
    ctx.progress('daemon: warming up the daemon');
    openClose(shim1, { batch: quick ? 300 : 5000, batches: 1, warmup: 0 });
    for (let i = 0; i < (quick ? 100 : 2000); i++) native.session(shim3);
    ctx.progress('daemon: open+close, native pam_permit');
    results['daemon.native1_oc_us'] = openClose(permit1, fast);
    ctx.progress('daemon: open+close through pam_wasm.so, 1-line C stack');
    results['daemon.shim1_oc_us'] = openClose(shim1, slow);
    ctx.progress('daemon: open+close through pam_wasm.so, against answerd');
    results['daemon.floor1_oc_us'] = openClose(floor1, slow);
    ctx.progress('daemon: whole session, 3 native lines');
    results['daemon.native3_session_us'] = timeSync(() => native.session(permit3), fast);
    ctx.progress('daemon: whole session through pam_wasm.so, 3-line C stack');
    results['daemon.shim3_session_us'] = timeSync(() => native.session(shim3), slow);
    ctx.progress('daemon: whole session through pam_wasm.so, against answerd');
    results['daemon.floor3_session_us'] = timeSync(() => native.session(floor3), slow);
    ctx.progress('daemon: open+close through pam_exec.so and pamwasm exec, 1-line C stack');
    results['daemon.exec1_oc_us'] = openClose(exec1, { batch: 1, batches: quick ? 3 : 7, warmup: 1 });

    ctx.progress(`daemon: ${CLIENTS} client processes, whole 3-line sessions, native, through pam_wasm.so and against answerd`);
    const pamload = buildPamload(dir.dir);
    // In turns, so that a change in the machine's load hits both alike; medians of the rounds.
    const rounds = quick ? 1 : 3;
    const nativeRate: number[] = [];
    const shimRate: number[] = [];
    const shimP99: number[] = [];
    const nativeP99: number[] = [];
    const shimCpu: number[] = [];
    const floorRate: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const n = runPamload(pamload, dir.dir, permit3, CLIENTS, quick ? 100 : 300);
      const cpu0 = cpuUs(child.pid!);
      const s = runPamload(pamload, dir.dir, shim3, CLIENTS, quick ? 20 : 60);
      shimCpu.push((cpuUs(child.pid!) - cpu0) / s.sessions);
      nativeRate.push(perSecond(n));
      nativeP99.push(n.p99Us / 1000);
      shimRate.push(perSecond(s));
      shimP99.push(s.p99Us / 1000);
      floorRate.push(perSecond(runPamload(pamload, dir.dir, floor3, CLIENTS, quick ? 50 : 150)));
    }
    results['daemon.native3_clients_per_s'] = median(nativeRate);
    results['daemon.shim3_clients_per_s'] = median(shimRate);
    results['daemon.native3_clients_p99_ms'] = median(nativeP99);
    results['daemon.shim3_clients_p99_ms'] = median(shimP99);
    results['daemon.cpu_per_session3_us'] = median(shimCpu);
    results['daemon.floor3_clients_per_s'] = median(floorRate);

    ctx.progress('daemon: RSS per held session, 3-line C stack');
    results['daemon.rss_per_session.c3_kib'] = await heldRss(native, child.pid!, shim3, quick ? 200 : 1000);
    ctx.progress('daemon: RSS per held session, JS module pam_setenv.wasm');
    results['daemon.rss_per_session.js_kib'] = await heldRss(native, child.pid!, shimJs, quick ? 20 : 60);
  } finally {
    native.dispose();
    answerd?.kill('SIGKILL');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

/** A process's CPU time, user and system, in microseconds (/proc/PID/stat utime and stime, in clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * The daemon's RSS growth per open session: `n` sessions opened through
 * libpam and held (their handles open in this process), measured once the
 * daemon has settled, then closed. A few sessions first warm its caches
 * (the compiled modules, in every worker), which every later session shares.
 */
async function heldRss(native: NativePam, pid: number, service: string, n: number): Promise<number> {
  // Several held at once, so that every worker has compiled the modules (a cost per worker, not per session).
  for (let round = 0; round < 2; round++) {
    const warm = Array.from({ length: 4 }, () => native.start(service));
    for (const h of warm) native.open(h);
    for (const h of warm) { native.close(h); native.end(h); }
  }
  await sleep(500);
  const before = rssKib(pid);
  const handles: bigint[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const h = native.start(service);
      handles.push(h);
      native.open(h);
    }
    await sleep(500);
    return (rssKib(pid) - before) / n;
  } finally {
    for (const h of handles) {
      try { native.close(h); } catch { /* counted by the registry, not here */ }
      native.end(h);
    }
  }
}
