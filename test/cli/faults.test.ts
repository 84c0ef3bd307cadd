/**
 * `pamwasm run --json` carries each faulted line's typed fault,
 * `fault: { kind, message }`, in its trace entry, for every hook the line
 * faulted in, so a tool matches the kind, never the English.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hostile } from '../support/hostile.js';
import { pamwasm, scratch } from '../support/cli.js';

const { file, remove } = scratch('pamwasm-cli-faults-');
afterAll(remove);

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('pamwasm run --json', () => {
  it('gives a trapping and a timed-out line their fault kinds, and a good line none', () => {
    const stack = file('faults.stack', [
      `session optional ${hostile('trap')}`,
      `session optional [${hostile('loop_open')} timeout=100ms]`,
      'session required pam_permit.wasm',
      '',
    ].join('\n'));
    const r = pamwasm('run', '--stack', stack, '--service', 'login', '--user', 'alice', '--phase', 'open', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { open, trace } = lastJson(r.stdout);
    expect(open.name).toBe('PAM_SUCCESS');
    expect(trace.map((t: { fault?: { kind: string } }) => t.fault?.kind)).toEqual(['trap', 'timeout', undefined]);
    for (const t of trace.slice(0, 2)) {
      expect(Object.keys(t.fault).sort()).toEqual(['kind', 'message']);
      expect(typeof t.fault.message).toBe('string');
      expect(t.name).toBe('PAM_SESSION_ERR');
    }
  });

  it('keeps the kind at close for a line that faulted at open', () => {
    const stack = file('faulted-earlier.stack', `session optional ${hostile('trap')}\nsession required pam_permit.wasm\n`);
    const r = pamwasm('run', '--stack', stack, '--service', 'login', '--user', 'alice', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { trace } = lastJson(r.stdout);
    expect(trace.map((t: { hook: string; fault?: { kind: string } }) => [t.hook, t.fault?.kind])).toEqual([['open', 'trap'], ['open', undefined], ['close', 'trap'], ['close', undefined]]);
  });
});
