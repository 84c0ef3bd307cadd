/**
 * A WASM stack inside a real system PAM session (createHost's Session, and
 * `pamwasm run --system-service`): the system stack from a temp confdir,
 * pam_env setting GREETING and pam_exec writing the PAM_TYPE and the
 * environment it sees to a file, both stacks on one libpam handle.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPamHandle } from '../../host/libpam/index.js';
import { createHost } from '../../host/sessions/index.js';
import { lastJson, pamwasm, Scratch } from './support.js';

const dir = new Scratch();
let putenv: string;
beforeAll(async () => {
  putenv = await dir.fixture('pam_putenv');
});
afterAll(() => dir.cleanup());

dir.write('pam_env.conf', 'GREETING DEFAULT=hello\n');
const dump = dir.write('dump.sh', '#!/bin/sh\n{ echo "--- $PAM_TYPE"; env | sort; } >> "$1"\n', 0o755);

/** The environment pam_exec gave the dump script, per PAM_TYPE, in order. */
function dumped(file: string): { type: string; env: string[] }[] {
  return readFileSync(file, 'utf8').split('--- ').filter(Boolean).map((part) => {
    const [type, ...env] = part.trim().split('\n');
    return { type, env };
  });
}

const service = (name: string, out: string) => dir.write(name, `
  session required pam_env.so readenv=0 conffile=${dir.path}/pam_env.conf
  session optional pam_exec.so ${dump} ${out}
`);

describe('a WASM stack inside a system session', () => {
  it("reads pam_env's value, puts a variable the application sees with pam_getenvlist, and runs on the system stack's handle", async () => {
    const out = `${dir.path}/api.txt`;
    service('api-svc', out);
    const stack = dir.write('api.stack', `
      session required pam_showenv.wasm GREETING
      session required ${putenv} FROM_WASM=set-by-wasm
    `);
    const host = await createHost({ registry: ':memory:', system: { service: 'api-svc', confdir: dir.path } });
    try {
      const s = await host.openSession({ stack, service: 'api-svc', user: 'alice', tty: 'pts/4' });
      expect([s.opened, s.system?.name, s.wasm?.name]).toEqual([true, 'PAM_SUCCESS', 'PAM_SUCCESS']);
      // pam_env ran first, in the system stack; the WASM module saw its value.
      expect(s.messages.map((m) => m.text)).toEqual(['GREETING=hello']);
      // The real handle's pam_getenvlist: the system modules' env and the WASM module's.
      expect(await s.getenvlist()).toEqual(expect.arrayContaining(['GREETING=hello', 'FROM_WASM=set-by-wasm']));

      const closed = await s.close();
      expect([closed.name, closed.system?.name, closed.wasm.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS', 'PAM_SUCCESS']);
      expect(closed.env).toEqual(expect.arrayContaining(['GREETING=hello', 'FROM_WASM=set-by-wasm']));
    } finally {
      await host.shutdown();
    }
    // pam_exec ran in the system stack at open (before the WASM stack: no
    // FROM_WASM yet) and at close (after it, on the same handle: FROM_WASM there).
    const runs = dumped(out);
    expect(runs.map((r) => r.type)).toEqual(['open_session', 'close_session']);
    expect(runs[0].env).toEqual(expect.arrayContaining(['GREETING=hello', 'PAM_USER=alice', 'PAM_TTY=pts/4']));
    expect(runs[0].env.some((e) => e.startsWith('FROM_WASM='))).toBe(false);
    expect(runs[1].env).toEqual(expect.arrayContaining(['GREETING=hello', 'FROM_WASM=set-by-wasm']));
  });

  it('takes over an authenticated handle, so auth and session share one PAM transaction as in sshd', async () => {
    const out = `${dir.path}/handle.txt`;
    dir.write('auth-svc', `
      auth required pam_permit.so
      account required pam_permit.so
      session required pam_env.so readenv=0 conffile=${dir.path}/pam_env.conf
      session optional pam_exec.so ${dump} ${out}
    `);
    const stack = dir.write('handle.stack', `session required ${putenv} FROM_WASM=after-auth\n`);
    const h = await openPamHandle({ service: 'auth-svc', user: 'alice', confdir: dir.path, items: { rhost: '192.0.2.7' } });
    await h.authenticate();
    await h.acctMgmt();
    const host = await createHost({ registry: ':memory:', system: { service: 'auth-svc', confdir: dir.path } });
    try {
      const s = await host.openSession({ stack, service: 'auth-svc', user: 'alice', tty: 'ssh', pamHandle: h });
      expect([s.opened, s.system?.name]).toEqual([true, 'PAM_SUCCESS']);
      // The handle the application authenticated is the one the session runs on.
      expect(await h.getenv('FROM_WASM')).toBe('after-auth');
      expect(await h.getItem('tty')).toBe('ssh');
      expect((await s.close()).name).toBe('PAM_SUCCESS');
      // The session ended the handle (pam_end): it cannot be used again.
      await expect(h.getenvlist()).rejects.toThrow();
    } finally {
      await host.shutdown();
    }
    expect(dumped(out).map((r) => r.type)).toEqual(['open_session', 'close_session']);
    expect(dumped(out)[0].env).toEqual(expect.arrayContaining(['PAM_RHOST=192.0.2.7', 'PAM_TTY=ssh']));
  });

  it('does not run the WASM stack when the system stack refuses the session', async () => {
    dir.write('deny-svc', 'session required pam_deny.so\n');
    const stack = dir.write('deny.stack', 'session required pam_stamp.wasm token=never\n');
    const host = await createHost({ registry: ':memory:', system: { service: 'deny-svc', confdir: dir.path } });
    try {
      const s = await host.openSession({ stack, service: 'deny-svc', user: 'alice' });
      expect([s.opened, s.name, s.wasm]).toEqual([false, 'PAM_SESSION_ERR', undefined]); // pam_deny's session hooks
      expect(host.sessions().map((r) => r.state)).toEqual(['failed']);
    } finally {
      await host.shutdown();
    }
  });
});

describe('pamwasm run --system-service', () => {
  it("prints the system stack's codes and the final PAM environment in its JSON", () => {
    const out = `${dir.path}/cli.txt`;
    service('cli-svc', out);
    const stack = dir.write('cli.stack', `
      session required pam_showenv.wasm GREETING
      session required ${putenv} FROM_WASM=cli
      session required pam_stamp.wasm token=cli-1
    `);
    const r = pamwasm(['run', '--stack', stack, '--service', 'cli-svc', '--user', 'alice', '--tty', 'pts/5',
      '--system-service', 'cli-svc', '--system-confdir', dir.path, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = lastJson<Record<string, any>>(r.stdout);
    expect(j.system).toEqual({ open: { code: 0, name: 'PAM_SUCCESS' }, close: { code: 0, name: 'PAM_SUCCESS' } });
    expect([j.open.name, j.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    expect(j.env).toEqual({ GREETING: 'hello', FROM_WASM: 'cli' });
    expect(j.messages.map((m: { text: string }) => m.text)).toEqual([
      'GREETING=hello', 'GREETING=hello', 'pam_stamp: token=cli-1 user=alice tty=pts/5',
    ]);
    expect(j.trace.map((t: { hook: string; line: number }) => `${t.hook}:${t.line}`)).toEqual(['open:2', 'open:3', 'open:4', 'close:2', 'close:3', 'close:4']);
    expect(dumped(out).map((x) => x.type)).toEqual(['open_session', 'close_session']);
  });

  it("exits 1 with the system stack's code when it refuses the session", () => {
    const stack = dir.write('cli-deny.stack', 'session required pam_permit.wasm\n');
    const r = pamwasm(['run', '--stack', stack, '--service', 'deny-svc', '--user', 'alice', '--system-service', 'deny-svc', '--system-confdir', dir.path, '--json']);
    expect(r.code).toBe(1);
    const j = lastJson<Record<string, any>>(r.stdout);
    expect(j.system).toEqual({ open: { code: 14, name: 'PAM_SESSION_ERR' } });
    expect(j.open.name).toBe('PAM_SESSION_ERR');
    expect(j.close).toBeUndefined();
    expect(j.trace).toEqual([]);
  });

  it('refuses --system-confdir alone and a --phase other than both, in one sentence', () => {
    const stack = dir.write('p.stack', 'session required pam_permit.wasm\n');
    for (const extra of [['--system-confdir', dir.path], ['--system-service', 'cli-svc', '--phase', 'open']]) {
      const r = pamwasm(['run', '--stack', stack, '--service', 's', '--user', 'u', ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
