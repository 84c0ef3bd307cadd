/**
 * `pamwasm exec` reads names from its environment, which pam_exec fills
 * from the PAM handle: a name is looked up as an own name only, so
 * PAM_TYPE=constructor is an unknown hook, and PAM environment variables
 * named constructor or __proto__ reach the modules like any other. And a
 * close finds the session on its own line: service, user, tty, rhost and
 * ruser, so two handles of one application that differ only in rhost or
 * ruser never close each other's session.
 */
import { describe, expect, it } from 'vitest';
import { openPamHandle } from '../../host/libpam/index.js';
import { Registry } from '../../host/sessions/registry.js';
import { BIN, execBundle, execScratch, NODE } from './support.js';
import { spawnSync } from 'node:child_process';

const fx = execScratch();
const { dir, registry, cache } = fx;

const base = { PAM_SERVICE: 'login', PAM_USER: 'alice', PAM_TTY: 'pts/4' };
const args = (stack: string) => ['--stack', stack, '--registry', registry, '--cache-dir', cache];
/** `node bin/pamwasm.js exec ...`, the command a pam_exec line runs, with exactly `env`. */
const binExec = (stack: string, env: Record<string, string>) => {
  const r = spawnSync(NODE, [BIN, 'exec', ...args(stack)], { encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('exec looks names up as its own', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'refuses PAM_TYPE=%s with exit 64 and one sentence, running no hook',
    (type) => {
      const stack = dir.write(`type-${type}.stack`, 'session required pam_echo.wasm HOOK-RAN\n');
      for (const r of [execBundle(args(stack), { ...base, PAM_TYPE: type }), binExec(stack, { ...base, PAM_TYPE: type })]) {
        expect(r.code).toBe(64);
        expect(r.stdout).not.toContain('HOOK-RAN');
        expect(r.stderr).toMatch(new RegExp(`PAM_TYPE is ${type}, but exec runs session stacks only`));
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      const reg = new Registry(registry);
      expect(reg.list().filter((s) => s.stack === stack)).toEqual([]);
      reg.close();
    },
  );

  it('gives the modules PAM environment variables named constructor, __proto__ and toString', () => {
    const stack = dir.write('protonames.stack', 'session required pam_showenv.wasm constructor __proto__ toString hasOwnProperty PAM_TYPE\n');
    const env = { ...base, constructor: 'c1', __proto__: 'p2', toString: 't3', hasOwnProperty: 'h4' };
    // An object literal's __proto__ key sets the prototype: write it as an own property.
    Object.defineProperty(env, '__proto__', { value: 'p2', enumerable: true });
    for (const r of [execBundle(args(stack), { ...env, PAM_TYPE: 'open_session' }), binExec(stack, { ...env, PAM_TYPE: 'open_session' })]) {
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe('constructor=c1\n__proto__=p2\ntoString=t3\nhasOwnProperty=h4\nPAM_TYPE unset\n');
    }
  });

  it('passes variables named constructor and __proto__ that pam_env put in a real libpam handle', async () => {
    const conf = dir.write('env.conf', 'constructor DEFAULT=from-pam-env\n__proto__ DEFAULT=also\n');
    const stack = dir.write('pamenv.stack', 'session required pam_showenv.wasm constructor __proto__\n');
    dir.write('pamenv', [
      `session required pam_env.so conffile=${conf} readenv=0 user_readenv=0`,
      `session required pam_exec.so stdout ${NODE} ${BIN} exec --stack ${stack} --registry ${registry} --cache-dir ${cache}`,
    ].join('\n') + '\n');
    const messages: string[] = [];
    const pamh = await openPamHandle({
      service: 'pamenv', user: 'alice', confdir: dir.path, helper: fx.helper, items: { tty: 'pts/5' },
      conversation: (ms) => ms.map((m) => void messages.push(m.text)),
    });
    try {
      expect((await pamh.openSession({ throwOnError: false })).name).toBe('PAM_SUCCESS');
      expect(messages).toEqual(['constructor=from-pam-env', '__proto__=also']);
    } finally {
      await pamh.closeSession({ throwOnError: false });
      await pamh.end({ throwOnError: false });
    }
  });
});

describe('a close under pam_exec', () => {
  it('finds the session of its own rhost and ruser when one application holds two that differ only there', async () => {
    const stack = dir.write('remote.stack', 'session required pam_stamp.wasm token=remote\n');
    dir.write('remote', `session required pam_exec.so stdout ${NODE} ${BIN} exec --stack ${stack} --registry ${registry} --cache-dir ${cache}\n`);
    const handle = (rhost: string, ruser: string) => openPamHandle({
      service: 'remote', user: 'gina', confdir: dir.path, helper: fx.helper, items: { tty: 'ssh', rhost, ruser },
      conversation: () => [],
    });
    const pairs = [['host-a', 'ann'], ['host-b', 'ann'], ['host-a', 'bob']] as const;
    const handles = [];
    for (const [rhost, ruser] of pairs) handles.push(await handle(rhost, ruser));
    try {
      for (const h of handles) expect((await h.openSession({ throwOnError: false })).name).toBe('PAM_SUCCESS');
      const reg = new Registry(registry);
      const state = () => reg.list().filter((r) => r.stack === stack).map((r) => [r.rhost, r.ruser, r.state]);
      // All three belong to one application process: only rhost and ruser tell them apart.
      expect(new Set(reg.list().filter((r) => r.stack === stack).map((r) => r.ownerPid))).toEqual(new Set([fx.helper.pid]));
      expect((await handles[0].closeSession({ throwOnError: false })).name).toBe('PAM_SUCCESS');
      expect(state()).toEqual([['host-a', 'ann', 'closed'], ['host-b', 'ann', 'open'], ['host-a', 'bob', 'open']]);
      expect((await handles[2].closeSession({ throwOnError: false })).name).toBe('PAM_SUCCESS');
      expect(state()).toEqual([['host-a', 'ann', 'closed'], ['host-b', 'ann', 'open'], ['host-a', 'bob', 'closed']]);
      expect((await handles[1].closeSession({ throwOnError: false })).name).toBe('PAM_SUCCESS');
      expect(state()).toEqual([['host-a', 'ann', 'closed'], ['host-b', 'ann', 'closed'], ['host-a', 'bob', 'closed']]);
      reg.close();
    } finally {
      for (const h of handles) await h.end({ throwOnError: false });
    }
  }, 60_000);
});
