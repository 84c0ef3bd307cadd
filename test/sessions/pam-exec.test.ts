/**
 * The pam_exec bridge through the real libpam: a service file in a temp
 * confdir runs `pam_exec.so stdout node .../pamwasm-exec.mjs --stack ...`,
 * so each pam_open_session / pam_close_session starts a `pamwasm exec`
 * process, as sshd or login would. Exit statuses become pam_exec's
 * outcomes, stdout lines the conversation's info messages, and module data
 * goes from the open process to the close process through the registry.
 */
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitPamExecEnvironment } from '../../host/cli/exec.js';
import { openPamHandle, PamHelper } from '../../host/libpam/index.js';
import { Registry } from '../../host/sessions/registry.js';
import { BIN, EXEC_BUNDLE, execBundle, execScratch, lastJson, NODE, pamwasm } from './support.js';

const fx = execScratch();
const { dir, registry, cache } = fx;

/** A service whose session stack is one pam_exec line running `stack` (through the bundle, or `pamwasm exec`). */
function service(name: string, stack: string, o: { via?: 'bundle' | 'bin'; before?: string } = {}): string {
  const program = o.via === 'bin' ? `${NODE} ${BIN} exec` : `${NODE} ${EXEC_BUNDLE}`;
  dir.write(name, `${o.before ?? ''}\nsession required pam_exec.so stdout ${program} --stack ${stack} --registry ${registry} --cache-dir ${cache}\n`);
  return name;
}

interface Outcome { name: string; messages: string[] }

/** A libpam application's session: pam_start_confdir, then the hooks asked for, then pam_end. */
async function login(svc: string, user: string, tty: string, h: PamHelper = fx.helper) {
  let messages: string[] = [];
  const pamh = await openPamHandle({
    service: svc, user, confdir: dir.path, helper: h, items: { tty },
    conversation: (ms) => ms.map((m) => void messages.push(`${m.style}: ${m.text}`)),
  });
  const run = async (hook: 'openSession' | 'closeSession'): Promise<Outcome> => {
    messages = [];
    const r = await pamh[hook]({ throwOnError: false });
    return { name: r.name, messages };
  };
  return { open: () => run('openSession'), close: () => run('closeSession'), end: () => pamh.end({ throwOnError: false }) };
}

const failed = (status: number) => `error: ${NODE} failed: exit code ${status}`;

describe('pamwasm exec under pam_exec', () => {
  it.each([
    // [open_session=, close_session=, pam_open_session, exit status, pam_close_session]
    ['success', 'success', 'PAM_SUCCESS', 0, 'PAM_SUCCESS'],
    ['session_err', 'success', 'PAM_SYSTEM_ERR', 14, undefined],
    ['perm_denied', 'success', 'PAM_SYSTEM_ERR', 6, undefined],
    // A stack whose only line says ignore fails (libpam: no positive impression).
    ['ignore', 'success', 'PAM_SYSTEM_ERR', 6, undefined],
    ['success', 'session_err', 'PAM_SUCCESS', 0, 'PAM_SYSTEM_ERR'],
  ] as const)('gives pam_exec an outcome for pam_debug open_session=%s close_session=%s', async (open, close, openName, status, closeName) => {
    const stack = dir.write(`debug-${open}-${close}.stack`, `session required pam_debug.wasm open_session=${open} close_session=${close}\n`);
    const l = await login(service(`debug-${open}-${close}`, stack), 'alice', 'pts/1');
    try {
      const o = await l.open();
      expect(o.name).toBe(openName);
      const shown = [`info: open_session=${open}`]; // pam_debug shows the code it returns, via stdout
      expect(o.messages).toEqual(status === 0 ? shown : [...shown, failed(status)]);
      if (closeName) {
        const c = await l.close();
        expect(c.name).toBe(closeName);
        expect(c.messages).toEqual([`info: close_session=${close}`, ...(closeName === 'PAM_SUCCESS' ? [] : [failed(14)])]);
      }
    } finally {
      await l.end();
    }
  });

  it('hands pam_stamp the token it stored in the open process when the close process runs, exactly once', async () => {
    const stack = dir.write('stamp.stack', 'session required pam_stamp.wasm token=t-77\n');
    const l = await login(service('stamp', stack), 'carol', 'pts/7');
    try {
      expect(await l.open()).toEqual({ name: 'PAM_SUCCESS', messages: [] });
      const reg = new Registry(registry);
      const [row] = reg.list(['open']).filter((r) => r.user === 'carol');
      // The session belongs to the application that called pam_exec, not to the exec process (gone by now).
      expect(row.ownerPid).toBe(fx.helper.pid);
      reg.close();

      expect(await l.close()).toEqual({ name: 'PAM_SUCCESS', messages: ['info: pam_stamp: token=t-77 user=carol tty=pts/7'] });
      const after = new Registry(registry);
      expect(after.get(row.id)).toMatchObject({ state: 'closed', closedBy: 'exec', closeCode: 0 });
      after.close();
      // A second close has no recorded open left: fresh instances, no data.
      const again = await l.close();
      expect(again.name).toBe('PAM_SYSTEM_ERR');
      expect(again.messages).toEqual([expect.stringMatching(/^info: pamwasm exec: no open session of carol on pts\/7 .*closing on fresh instances/), failed(18)]);
    } finally {
      await l.end();
    }
  });

  it('leaves an exec session to `recover` only once the application that opened it is gone', async () => {
    const stack = dir.write('owned.stack', 'session required pam_stamp.wasm token=owned\n');
    const app = await PamHelper.start({ mode: 'helper' });
    const l = await login(service('owned', stack), 'erin', 'pts/2', app);
    expect((await l.open()).name).toBe('PAM_SUCCESS');
    const r1 = pamwasm(['recover', '--registry', registry, '--json']);
    expect(r1.code).toBe(0);
    expect(lastJson<{ closed: unknown[] }>(r1.stdout).closed).toEqual([]);

    await app.close(); // the application exits without pam_close_session
    const r2 = pamwasm(['recover', '--registry', registry, '--json']);
    const closed = lastJson<{ closed: { user: string; name: string; messages: { text: string }[] }[] }>(r2.stdout).closed;
    expect(closed.map((c) => [c.user, c.name, c.messages.map((m) => m.text)])).toEqual([
      ['erin', 'PAM_SUCCESS', ['pam_stamp: token=owned user=erin tty=pts/2']],
    ]);
  });

  it('closes the session the same application opened when one user has two on one tty', async () => {
    const stack = dir.write('twice.stack', 'session required pam_stamp.wasm token=twice\n');
    service('twice', stack);
    const [appA, appB] = await Promise.all([PamHelper.start({ mode: 'helper' }), PamHelper.start({ mode: 'helper' })]);
    try {
      const a = await login('twice', 'frank', 'ssh', appA);
      const b = await login('twice', 'frank', 'ssh', appB);
      await a.open();
      await b.open(); // the newer one
      const reg = new Registry(registry);
      const ids = Object.fromEntries(reg.list(['open']).filter((r) => r.user === 'frank').map((r) => [r.ownerPid, r.id]));
      expect((await a.close()).name).toBe('PAM_SUCCESS');
      expect(reg.get(ids[appA.pid])?.state).toBe('closed');
      expect(reg.get(ids[appB.pid])?.state).toBe('open');
      expect((await b.close()).name).toBe('PAM_SUCCESS');
      expect(reg.get(ids[appB.pid])?.state).toBe('closed');
      reg.close();
      await Promise.all([a.end(), b.end()]);
    } finally {
      await Promise.all([appA.close(), appB.close()]);
    }
  });

  it('refuses a PAM environment variable that would pass for an item (PAM_USER from pam_env)', async () => {
    dir.write('spoof_env.conf', 'PAM_USER DEFAULT=root\n');
    const stack = dir.write('spoof.stack', 'session required pam_permit.wasm\n');
    const l = await login(service('spoof', stack, { before: `session required pam_env.so readenv=0 conffile=${dir.path}/spoof_env.conf` }), 'mallory', 'pts/6');
    try {
      const o = await l.open();
      expect(o.name).toBe('PAM_SYSTEM_ERR');
      expect(o.messages).toEqual([expect.stringMatching(/^info: pamwasm exec: PAM_USER is in the environment twice/), failed(64)]);
    } finally {
      await l.end();
    }
  });

  it('runs through `pamwasm exec` (bin/pamwasm.js) too', async () => {
    const stack = dir.write('bin.stack', 'session required pam_debug.wasm open_session=success close_session=success\n');
    const l = await login(service('bin', stack, { via: 'bin' }), 'gina', 'pts/3');
    try {
      expect(await l.open()).toEqual({ name: 'PAM_SUCCESS', messages: ['info: open_session=success'] });
      expect(await l.close()).toEqual({ name: 'PAM_SUCCESS', messages: ['info: close_session=success'] });
    } finally {
      await l.end();
    }
  });

  it('keeps its registry (mode 600) and its component cache (a folder of mode 700) private', () => {
    expect(statSync(registry).mode & 0o777).toBe(0o600);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    // (entries: test/loader/cache.test.ts)
  });
});

describe('pamwasm exec run by hand', () => {
  const base = { PAM_SERVICE: 'login', PAM_USER: 'alice', PAM_TTY: 'pts/9' };
  const args = (stack: string) => ['--stack', stack, '--registry', registry, '--cache-dir', cache];

  it('gives the modules every variable but PAM_TYPE and the items as the PAM environment', () => {
    const stack = dir.write('show.stack', 'session required pam_showenv.wasm GREETING PAM_USER PAM_TYPE\n');
    const r = execBundle(args(stack), { ...base, PAM_TYPE: 'open_session', GREETING: 'hi there' });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe('GREETING=hi there\nPAM_USER unset\nPAM_TYPE unset\n');
  });

  it.each([
    [{ PAM_TYPE: 'auth' }, 64, /PAM_TYPE is auth, but exec runs session stacks only/],
    [{}, 64, /PAM_TYPE is not set/],
    [{ PAM_TYPE: 'open_session', PAM_USER: '' }, 64, /PAM_USER is not set/],
  ])('exits %o with status %i and one sentence', (env, status, message) => {
    const r = execBundle(args(dir.write('x.stack', 'session required pam_permit.wasm\n')), { ...base, ...env });
    expect(r.code).toBe(status);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 78 when the stack file is missing and 64 on an unknown option', () => {
    const missing = execBundle(args(`${dir.path}/nope.stack`), { ...base, PAM_TYPE: 'open_session' });
    expect([missing.code, missing.stderr]).toEqual([78, expect.stringMatching(/nope\.stack/)]);
    const bad = execBundle(['--stak', 'x'], { ...base, PAM_TYPE: 'open_session' });
    expect(bad.code).toBe(64);
  });

  it('splits the environment as pam_exec builds it, refusing any item name given twice', () => {
    expect(splitPamExecEnvironment(['LANG=C', 'X=a=b', 'PAM_SERVICE=sshd', 'PAM_USER=alice', 'PAM_TTY=ssh', 'PAM_TYPE=close_session'])).toEqual({
      type: 'close_session', items: { service: 'sshd', user: 'alice', tty: 'ssh' }, env: { LANG: 'C', X: 'a=b' },
    });
    for (const name of ['PAM_TYPE', 'PAM_SERVICE', 'PAM_USER', 'PAM_TTY', 'PAM_RHOST', 'PAM_RUSER']) {
      expect(() => splitPamExecEnvironment([`${name}=from-env`, 'PAM_SERVICE=s', 'PAM_USER=u', 'PAM_TYPE=open_session', `${name}=item`])).toThrow(/in the environment twice/);
    }
  });
});
