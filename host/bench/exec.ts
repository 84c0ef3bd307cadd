/**
 * `pamwasm exec` start-up: what pam_exec.so pays at every login, from
 * spawning the process to its exit, for a one-line stack (open_session),
 * against `node -e 0` on the same machine. The two are run in turns so that
 * a change in the machine's load hits both alike. The first exec run fills
 * the disk cache of prepared components and is not counted: exec uses that
 * cache by default.
 */
import { join } from 'node:path';
import { type BenchContext } from './fixtures.js';
import { BIN, median, timeProcess } from './measure.js';

export async function execGroup(ctx: BenchContext): Promise<void> {
  const { results, quick, dir } = ctx;
  const stack = dir.stack('exec1', ['session required pam_permit.wasm']);
  // pam_exec's environment: the PAM environment and items, nothing else.
  const env = { PAM_TYPE: 'open_session', PAM_SERVICE: 'bench', PAM_USER: 'alice', PAM_TTY: 'pts/0' };
  const exec = [process.execPath, BIN, 'exec', '--stack', stack, '--registry', join(dir.dir, 'registry.db'), '--cache-dir', join(dir.dir, 'exec-cache')];
  const node = [process.execPath, '-e', '0'];
  ctx.progress('exec: first run (fills the disk cache)');
  const first = timeProcess(exec, env);
  if (first.status !== 0) throw new Error(`pamwasm exec failed (exit ${first.status}): ${first.stderr.trim().split('\n').at(-1) ?? ''}`);
  const n = quick ? 3 : 15;
  ctx.progress(`exec: ${n} runs each of pamwasm exec and node -e 0`);
  const execMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = timeProcess(exec, env);
    if (r.status !== 0) throw new Error(`pamwasm exec failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    execMs.push(r.ms);
    nodeMs.push(timeProcess(node, {}).ms);
  }
  results['exec.startup_ms'] = median(execMs);
  results['exec.node_baseline_ms'] = median(nodeMs);
}
