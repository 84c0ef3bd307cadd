/**
 * pam_wasm.so and `pamwasm daemon`, measured through libpam
 * (pam_start_confdir, koffi on this thread) against native pam_permit.so:
 *  - open+close on one handle, 1-line C stack;
 *  - a whole session (start+open+close+end), 3-line C stack.
 * The daemon runs in a child process (as root, --user root): the module
 * blocks this thread while it waits for the daemon's answer.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_DIST_DIR } from '../build/js.js';
import { PAM_MODULE } from '../build/pam.js';
import { packageRoot } from '../wit/index.js';
import { NativePam, repeatLine, type BenchContext } from './fixtures.js';
import { timeSync } from './measure.js';

export async function daemonGroup(ctx: BenchContext): Promise<void> {
  const { dir, results, quick } = ctx;
  if (!existsSync(PAM_MODULE)) { ctx.notes.daemon = 'dist/pam_wasm.so is not built (needs gcc and libpam0g-dev)'; return; }
  if (process.getuid?.() !== 0) { ctx.notes.daemon = 'needs root (the daemon binds and checks peers as root)'; return; }
  const socket = join(dir.dir, 'daemon.sock');
  ctx.progress('daemon: starting pamwasm daemon');
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'pamwasm.js'), 'daemon', '--socket', socket, '--registry', join(dir.dir, 'daemon', 'registry.db'),
    '--user', 'root', '--log', 'stderr', '--module-dir', GUEST_DIST_DIR], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      child.stderr!.setEncoding('utf8').on('data', (c: string) => { if (log.length < 4096) log += c; if (log.includes('serving ')) resolve(); });
      child.once('exit', (code) => reject(new Error(`pamwasm daemon exited (${code}): ${log}`)));
    });
    child.stderr!.resume();
    const shim = (stack: string) => `session required ${PAM_MODULE} stack=${stack} socket=${socket} daemon_user=root`;
    const permit1 = dir.service('daemon-native1', ['session required pam_permit.so']);
    const permit3 = dir.service('daemon-native3', repeatLine('session required pam_permit.so', 3));
    const shim1 = dir.service('daemon-shim1', [shim(dir.stack('daemon1', ['session required pam_permit.wasm']))]);
    const shim3 = dir.service('daemon-shim3', [shim(dir.stack('daemon3', repeatLine('session required pam_permit.wasm', 3)))]);
    const native = new NativePam(dir.dir);
    const fast = quick ? { batch: 200, batches: 9 } : { batch: 500, batches: 21 };
    const slow = quick ? { batch: 50, batches: 9 } : { batch: 200, batches: 21 };
    try {
      const openClose = (service: string, repeat: typeof fast) => {
        const h = native.start(service);
        try { return timeSync(() => { native.open(h); native.close(h); }, repeat); } finally { native.end(h); }
      };
      ctx.progress('daemon: open+close, native pam_permit');
      results['daemon.native1_oc_us'] = openClose(permit1, fast);
      ctx.progress('daemon: open+close through pam_wasm.so, 1-line C stack');
      results['daemon.shim1_oc_us'] = openClose(shim1, slow);
      ctx.progress('daemon: whole session, 3 native lines');
      results['daemon.native3_session_us'] = timeSync(() => native.session(permit3), fast);
      ctx.progress('daemon: whole session through pam_wasm.so, 3-line C stack');
      results['daemon.shim3_session_us'] = timeSync(() => native.session(shim3), slow);
    } finally {
      native.dispose();
    }
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}
