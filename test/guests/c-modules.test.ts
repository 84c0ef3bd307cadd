// The C reference modules (pam_permit, pam_deny, pam_debug, pam_echo,
// pam_warn, pam_datatest), built for real by host/build/c.ts and run under
// the loader with a plain JS host. What each must do is Linux-PAM 1.5.2's
// behaviour; c-native.test.ts compares with the real modules.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildCModule, cGuestFolders, readModuleConfig } from '../../host/build/c.js';
import { PAM_CODES } from '../../host/codes/index.js';
import { CBuilds, fakeHost, FIXTURES, GUESTS } from './c-host.js';

const builds = new CBuilds();
// clang runs in parallel; each module is then built once for the whole file.
// pam_openonly lacks a hook, which the builder refuses unless told not to.
const OPEN_ONLY = { allowHookProblems: true };
beforeAll(() => Promise.all([
  ...[...cGuestFolders(GUESTS), join(FIXTURES, 'pam_outofrange')].map((f) => builds.bytes(f)),
  builds.bytes(join(FIXTURES, 'pam_openonly'), OPEN_ONLY),
]));
afterAll(() => builds.remove());

const mod = (name: string) => join(GUESTS, name);

describe('building', () => {
  test('every C module in guest-modules imports only the session world\'s interfaces', async () => {
    const folders = cGuestFolders(GUESTS);
    expect(folders.map((f) => f.split('/').pop())).toEqual(
      expect.arrayContaining(['pam_datatest', 'pam_debug', 'pam_deny', 'pam_echo', 'pam_permit', 'pam_warn']),
    );
    for (const folder of folders) {
      const wit = await componentWit(await builds.bytes(folder));
      const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
      expect(imports.every((i) => i.startsWith('pamwasm:session/')), `${folder}: ${imports.join(', ')}`).toBe(true);
      expect(wit).toContain('export open-session: func(%flags: session-flags, argv: list<string>) -> status;');
      expect(wit).toContain('export close-session: func(%flags: session-flags, argv: list<string>) -> status;');
    }
  });

  test('a module that never converses imports nothing at all', async () => {
    const wit = await componentWit(await builds.bytes(mod('pam_permit')));
    expect(wit).not.toMatch(/import pamwasm:session\/(items|env|data|log|conversation)/);
  });

  test('builds are reproducible and do not depend on where the folder is', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'pamwasm-repro-'));
    try {
      const copy = join(elsewhere, 'some', 'other', 'path', 'pam_echo');
      await cp(mod('pam_echo'), copy, { recursive: true });
      const a = await builds.bytes(mod('pam_echo'));
      const b = await buildCModule(copy, join(elsewhere, 'again.wasm'));
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
      expect(Buffer.from(a).includes(GUESTS)).toBe(false);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  test('a compile error is a BuildError that carries the compiler output', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pamwasm-bad-'));
    try {
      await cp(join(FIXTURES, 'pam_openonly'), dir, { recursive: true });
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'broken.c'), 'int pam_sm_close_session(void) { return nope; }\n');
      await expect(buildCModule(dir, join(dir, 'out.wasm'))).rejects.toMatchObject({
        code: 'ERR_PAMWASM_BUILD',
        message: expect.stringMatching(/broken\.c:1:.*nope/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a build.json with a mistake is a BuildError that names the file and the setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pamwasm-config-'));
    try {
      const { writeFile } = await import('node:fs/promises');
      const refused = async (json: string, message: RegExp) => {
        await writeFile(join(dir, 'build.json'), json);
        expect(() => readModuleConfig(dir)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_BUILD', message: expect.stringMatching(message) }));
      };
      await refused('{"wasi": yes}', /build\.json is not valid JSON/);
      await refused('["wasi"]', /must hold a JSON object/);
      await refused('{"wasi": true, "stack": 1}', /unknown setting "stack": the settings are wasi, wit, world/);
      await refused('{"wasi": "true"}', /"wasi" must be a boolean/);
      await refused('{"world": "other"}', /names world "other" but no "wit" file/);
      await writeFile(join(dir, 'build.json'), '{"wit": "other.wit", "world": "other"}');
      await cp(join(FIXTURES, 'pam_openonly'), dir, { recursive: true });
      await expect(buildCModule(dir, join(dir, 'out.wasm'))).rejects.toMatchObject({ message: expect.stringMatching(/names "other\.wit", which is not a file/) });
      await writeFile(join(dir, 'build.json'), '{"wasi": true}');
      expect(readModuleConfig(dir)).toEqual({ wasi: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing compiler is a BuildError that says how to install it', async () => {
    const saved = process.env.PAMWASM_CLANG;
    process.env.PAMWASM_CLANG = '/nonexistent/clang';
    try {
      await expect(buildCModule(mod('pam_permit'), join(tmpdir(), 'never.wasm'))).rejects.toMatchObject({
        code: 'ERR_PAMWASM_BUILD',
        message: expect.stringContaining('apt-get install -y clang lld wasi-libc'),
      });
    } finally {
      if (saved === undefined) delete process.env.PAMWASM_CLANG;
      else process.env.PAMWASM_CLANG = saved;
    }
  });

  test('using a libc call that needs the system is refused, naming the C function and its grant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pamwasm-wasi-'));
    try {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'm.c'), [
        '#include <time.h>',
        '#include <security/pam_modules.h>',
        'int pam_sm_open_session(pam_handle_t *h, int f, int c, const char **v) { return (int)time(0) & 1; }',
      ].join('\n'));
      await expect(buildCModule(dir, join(dir, 'out.wasm'))).rejects.toMatchObject({
        code: 'ERR_PAMWASM_BUILD',
        message: expect.stringMatching(/calls C functions that need the system.*: time \(clocks: .*grant clocks on its stack line\)/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('pam_permit and pam_deny', () => {
  test('pam_permit opens and closes with success and touches nothing', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_permit'), h);
    expect(m.openSession({}, ['anything'])).toBe('success');
    expect(m.closeSession({ silent: true }, [])).toBe('success');
    expect([...h.itemReads, ...h.messages, ...h.logs]).toEqual([]);
  });

  test('pam_deny fails opening and closing with session-err, as Linux-PAM 1.5.2 does', async () => {
    const m = await builds.instance(mod('pam_deny'), fakeHost());
    expect(m.openSession({}, [])).toBe('session-err');
    expect(m.closeSession({}, [])).toBe('session-err');
  });
});

describe('pam_debug', () => {
  test.each(PAM_CODES.map((c) => [c.token, c.status]))('open_session=%s returns %s and says so', async (token, status) => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_debug'), h);
    expect(m.openSession({}, [`open_session=${token}`, 'close_session=abort'])).toBe(status);
    expect(h.messages).toEqual([`info: open_session=${token}`]);
  });

  test.each(PAM_CODES.map((c) => [c.token, c.status]))('close_session=%s returns %s and says so', async (token, status) => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_debug'), h);
    expect(m.closeSession({}, ['open_session=abort', `close_session=${token}`])).toBe(status);
    expect(h.messages).toEqual([`info: close_session=${token}`]);
  });

  test('without an argument for the hook it succeeds silently', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_debug'), h);
    expect(m.openSession({}, [])).toBe('success');
    expect(m.closeSession({}, ['open_session=perm_denied', 'close_session'])).toBe('success');
    expect(h.messages).toEqual([]);
  });

  test('only the first argument for the hook counts, even when its code is unknown', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_debug'), h);
    expect(m.openSession({}, ['open_session=bogus', 'open_session=session_err'])).toBe('success');
    expect(m.openSession({}, ['open_session=ignore', 'open_session=session_err'])).toBe('ignore');
    expect(m.openSession({}, ['open_session=default'])).toBe('success');
    expect(h.messages).toEqual(['info: open_session=ignore']);
  });

  test('it talks even when the application asked for silence, and whatever the conversation says', async () => {
    const h = fakeHost({ convStatus: 'conv-err' });
    const m = await builds.instance(mod('pam_debug'), h);
    expect(m.openSession({ silent: true }, ['open_session=cred_err'])).toBe('cred-err');
    expect(h.messages).toEqual(['info: open_session=cred_err']);
    // libpam's pam_prompt logs the failed conversation.
    expect(h.logs).toEqual(['err: conversation failed']);
  });
});

describe('pam_echo', () => {
  test('shows its arguments joined by spaces, with items substituted', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({}, ['Hello', '%u@%H', 'as', '%U', 'on', '%t', 'via', '%s'])).toBe('success');
    expect(h.messages).toEqual(['info: Hello alice@client.example as bob on pts/0 via sshd']);
  });

  test('an unset item and the local host name show as (null); other % sequences drop the %', async () => {
    const h = fakeHost({ items: { service: 'login', user: 'alice' } });
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({}, ['%t|%H|%U|%h|%%|%x|100%'])).toBe('success');
    expect(h.messages).toEqual(['info: (null)|(null)|(null)|(null)|%|x|100%']);
  });

  test('with no arguments it shows an empty message', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({}, [])).toBe('success');
    expect(h.messages).toEqual(['info: ']);
  });

  test('the arguments are cut at 511 bytes, the substituted text at 511 more', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    m.openSession({}, ['x'.repeat(600)]);
    m.openSession({}, ['%u'.repeat(300)]);
    expect(h.messages[0]).toBe(`info: ${'x'.repeat(511)}`);
    // 255 "%u" and a '%' survive the first cut; expanding them stops at
    // strlen + PAM_MAX_MSG_SIZE - 1 = 1022 bytes, as in pam_echo.c.
    expect(h.messages[1]).toBe(`info: ${'alice'.repeat(204)}al`);
  });

  test('PAM_SILENT makes it quiet and returns ignore', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({ silent: true }, ['hello'])).toBe('ignore');
    expect(h.messages).toEqual([]);
  });

  test('closing does nothing and returns ignore', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.closeSession({}, ['hello'])).toBe('ignore');
    expect(h.messages).toEqual([]);
  });

  test('a file= argument cannot be opened in the sandbox: logged, ignore, nothing shown', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({}, ['file=/etc/motd'])).toBe('ignore');
    expect(h.messages).toEqual([]);
    expect(h.logs).toEqual(['err: Cannot open /etc/motd: Permission denied']);
  });

  test('an empty file= is just text', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_echo'), h);
    expect(m.openSession({}, ['file=', '%u'])).toBe('success');
    expect(h.messages).toEqual(['info: file= alice']);
  });
});

describe('pam_warn', () => {
  test('logs the items at notice, in pam_warn.c\'s order, and returns ignore', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_warn'), h);
    expect(m.openSession({}, [])).toBe('ignore');
    expect(m.closeSession({ silent: true }, [])).toBe('ignore');
    expect(h.logs).toEqual([
      'notice: function=[pam_sm_open_session] flags=0 service=[sshd] terminal=[pts/0] user=[alice] ruser=[bob] rhost=[client.example]\n',
      'notice: function=[pam_sm_close_session] flags=0x8000 service=[sshd] terminal=[pts/0] user=[alice] ruser=[bob] rhost=[client.example]\n',
    ]);
    expect(h.itemReads.slice(0, 5)).toEqual(['service', 'tty', 'user', 'ruser', 'rhost']);
    expect(h.messages).toEqual([]);
  });

  test('an unset item is <unknown>', async () => {
    const h = fakeHost({ items: {} });
    const m = await builds.instance(mod('pam_warn'), h);
    m.openSession({}, []);
    expect(h.logs).toEqual([
      'notice: function=[pam_sm_open_session] flags=0 service=[<unknown>] terminal=[<unknown>] user=[<unknown>] ruser=[<unknown>] rhost=[<unknown>]\n',
    ]);
  });
});

describe('pam_datatest', () => {
  test('in one instance, both pointer data and bytes come back; replacing ran the cleanup', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_datatest'), h);
    expect(m.openSession({}, ['value=kept'])).toBe('success');
    expect(m.closeSession({}, [])).toBe('success');
    expect(h.messages).toEqual(['info: pointer=kept bytes=kept replaced=1 status=0x20000000']);
    expect(new TextDecoder().decode(h.data.get('pam_datatest'))).toBe('kept');
  });

  test('in a fresh instance only the bytes kept by the host survive', async () => {
    const h = fakeHost();
    await (await builds.instance(mod('pam_datatest'), h)).openSession({}, []);
    const later = await builds.instance(mod('pam_datatest'), h);
    expect(later.closeSession({}, ['delete'])).toBe('success');
    expect(h.messages).toEqual(['info: pointer=(none) bytes=pam_datatest replaced=0 status=0']);
    expect(h.data.has('pam_datatest')).toBe(false);
  });

  test('without data it says so and returns no-module-data', async () => {
    const h = fakeHost();
    const m = await builds.instance(mod('pam_datatest'), h);
    expect(m.closeSession({}, [])).toBe('no-module-data');
    expect(h.messages).toEqual(['info: pointer=(none) bytes=(none) replaced=0 status=0']);
  });
});

describe('return values outside Linux-PAM\'s codes', () => {
  test('99 and -1 become perm-denied (libpam\'s PAM_MUST_FAIL_CODE)', async () => {
    const m = await builds.instance(join(FIXTURES, 'pam_outofrange'), fakeHost());
    expect(m.openSession({}, [])).toBe('perm-denied');
    expect(m.closeSession({}, [])).toBe('perm-denied');
  });

  test('a hook the module does not define returns module-unknown when such a component is built anyway', async () => {
    const m = await builds.instance(join(FIXTURES, 'pam_openonly'), fakeHost(), OPEN_ONLY);
    expect(m.openSession({}, [])).toBe('success');
    expect(m.closeSession({}, [])).toBe('module-unknown');
  });
});
