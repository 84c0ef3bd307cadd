// The C SDK's PAM calls and canonical-ABI glue, read back through a probe
// module (fixtures/pam_sdkprobe) that reports each call with pam_info.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { loadComponent } from '../../host/loader/index.js';
import { CBuilds, fakeHost, FIXTURES, type FakeHost } from './c-host.js';

const builds = new CBuilds();
const PROBE = join(FIXTURES, 'pam_sdkprobe');
beforeAll(() => builds.bytes(PROBE));
afterAll(() => builds.remove());

/** Runs the probe's open hook with `commands` and returns what it said. */
async function probe(commands: string[], host: FakeHost = fakeHost(), silent = false): Promise<string[]> {
  const m = await builds.instance(PROBE, host);
  expect(m.openSession({ silent }, commands)).toBe('success');
  return host.messages;
}

describe('items', () => {
  test('string items come from the host; an unset one is NULL with success', async () => {
    const h = fakeHost({ items: { service: 'sshd', user: 'alice', 'user-prompt': 'Name: ', xdisplay: ':0' } });
    expect(await probe(['item=1', 'item=2', 'item=3', 'item=9', 'item=11'], h)).toEqual([
      'info: item 1: rc=0 value=sshd',
      'info: item 2: rc=0 value=alice',
      'info: item 3: rc=0 value=NULL',
      'info: item 9: rc=0 value=Name: ',
      'info: item 11: rc=0 value=:0',
    ]);
  });

  test('passwords are never readable: PAM_AUTHTOK and PAM_OLDAUTHTOK are bad items, and so are unknown ones', async () => {
    expect(await probe(['item=6', 'item=7', 'item=99', 'item=0'])).toEqual([
      'info: item 6: rc=29 value=NULL',
      'info: item 7: rc=29 value=NULL',
      'info: item 99: rc=29 value=NULL',
      'info: item 0: rc=29 value=NULL',
    ]);
  });

  test('items the world does not carry read as never set', async () => {
    expect(await probe(['item=10', 'item=13'])).toEqual([
      'info: item 10: rc=0 value=NULL',
      'info: item 13: rc=0 value=NULL',
    ]);
  });

  test('a returned item stays the same pointer while its value is unchanged', async () => {
    expect(await probe(['same=2', 'same=4'])).toEqual(['info: same 2: yes', 'info: same 4: yes']);
  });

  test('pam_get_user returns PAM_USER when set', async () => {
    expect(await probe(['user'])).toEqual(['info: user: rc=0 value=alice']);
  });

  test('pam_get_user asks with PAM_USER_PROMPT when no user is set, and the answer sticks', async () => {
    const h = fakeHost({ items: { 'user-prompt': 'Who? ' }, answers: ['carol'] });
    expect(await probe(['user', 'item=2', 'user'], h)).toEqual([
      'prompt-echo-on: Who? ',
      'info: user: rc=0 value=carol',
      'info: item 2: rc=0 value=carol',
      'info: user: rc=0 value=carol',
    ]);
  });

  test('pam_get_user asks "login:" by default, and a failed question is not asked twice', async () => {
    const h = fakeHost({ items: {} });
    expect(await probe(['user', 'user'], h)).toEqual([
      'prompt-echo-on: login:',
      'info: user: rc=19 value=NULL',
      'info: user: rc=19 value=NULL',
    ]);
  });
});

describe('PAM environment', () => {
  test('getenv, putenv and getenvlist go to the host with pam_putenv semantics', async () => {
    const h = fakeHost({ env: new Map([['LANG', 'C']]) });
    expect(await probe(['getenv=LANG', 'getenv=NOPE', 'putenv=A=1', 'putenv=B=', 'putenv=LANG', 'putenv=GONE', 'envlist', 'samenv=A'], h)).toEqual([
      'info: getenv LANG: C',
      'info: getenv NOPE: NULL',
      'info: putenv A=1: rc=0',
      'info: putenv B=: rc=0',
      'info: putenv LANG: rc=0',
      'info: putenv GONE: rc=29',
      'info: envlist: A=1,B=',
      'info: samenv A: yes',
    ]);
    expect([...h.env]).toEqual([['A', '1'], ['B', '']]);
  });

  test('an empty environment lists as nothing', async () => {
    expect(await probe(['envlist'])).toEqual(['info: envlist: ']);
  });
});

describe('conversation', () => {
  test('pam_prompt asks with the right echo style and returns the answer', async () => {
    const h = fakeHost({ answers: ['yes', 's3cret'] });
    expect(await probe(['prompt-on=Continue?', 'prompt-off=Token:'], h)).toEqual([
      'prompt-echo-on: Continue?',
      'info: prompt: rc=0 answer=yes',
      'prompt-echo-off: Token:',
      'info: prompt: rc=0 answer=s3cret',
    ]);
  });

  test('a failed prompt gives conv-err, no answer, and libpam\'s log line', async () => {
    const h = fakeHost();
    expect(await probe(['prompt-on=Continue?'], h)).toEqual([
      'prompt-echo-on: Continue?',
      'info: prompt: rc=19 answer=NULL',
    ]);
    expect(h.logs).toEqual(['err: conversation failed']);
  });

  test('PAM_CONV works for modules that call conv() with several messages', async () => {
    const h = fakeHost({ answers: ['ok'] });
    expect(await probe(['conv', 'error=bad thing'], h)).toEqual([
      'info: conv info',
      'error: conv error',
      'prompt-echo-on: conv prompt',
      'info: conv: rc=0 answer=ok',
      'error: bad thing',
    ]);
  });

  test('PAM_CONV refuses message styles the world cannot carry', async () => {
    expect(await probe(['radio'])).toEqual(['info: radio: rc=19 resp=NULL']);
  });
});

describe('logging', () => {
  test('pam_syslog maps LOG_* levels to the WIT priority and ignores facility bits', async () => {
    const h = fakeHost();
    // 0..7 are LOG_EMERG..LOG_DEBUG; 83 is LOG_AUTHPRIV (80) | LOG_ERR (3).
    await probe(['syslog=0:a', 'syslog=1:b', 'syslog=2:c', 'syslog=3:d', 'syslog=4:e', 'syslog=5:f', 'syslog=6:g', 'syslog=7:h', 'syslog=83:i'], h);
    expect(h.logs).toEqual([
      'emerg: a', 'alert: b', 'crit: c', 'err: d', 'warning: e', 'notice: f', 'info: g', 'debug: h', 'err: i',
    ]);
  });

  test('%m is the caller\'s errno, and bytes that are not UTF-8 become U+FFFD', async () => {
    const h = fakeHost();
    await probe(['errno-m', 'badutf8'], h);
    expect(h.logs).toEqual(['err: x: No such file or directory', 'info: a\uFFFD b\uFFFD']);
  });

  test('pam_strerror has libpam\'s texts', async () => {
    expect(await probe(['strerror=0', 'strerror=14', 'strerror=31', 'strerror=32'])).toEqual([
      'info: strerror 0: Success',
      'info: strerror 14: Cannot make/remove an entry for the specified session',
      'info: strerror 31: Application needs to call libpam again',
      'info: strerror 32: Unknown PAM error',
    ]);
  });
});

describe('canonical ABI', () => {
  test('argv arrives whole: empty strings, UTF-8 and many arguments', async () => {
    const args = ['argv', '', 'é€😀', ...Array.from({ length: 40 }, (_, i) => `a${i}`)];
    const [line] = await probe(args);
    expect(line).toBe(`info: argv: ${args.length} ${args.map((a) => `[${a}]`).join(' ')}`);
  });

  test('an instance can be called many times without its memory growing', async () => {
    const h = fakeHost({ env: new Map([['X', 'y'.repeat(300)]]), answers: [] });
    const memories: WebAssembly.Memory[] = [];
    const loaded = await loadComponent(await builds.bytes(PROBE));
    const m = loaded.instantiate(h.imports, (module, imports) => {
      const instance = new WebAssembly.Instance(module, imports);
      if (instance.exports.memory instanceof WebAssembly.Memory) memories.push(instance.exports.memory);
      return instance;
    });
    const round = () => m.openSession({}, ['item=2', 'getenv=X', 'envlist', 'prompt-on=q', 'conv', 'badutf8', 'x'.repeat(2000)]);
    for (let i = 0; i < 50; i++) round();
    const size = memories[0].buffer.byteLength;
    for (let i = 0; i < 2000; i++) round();
    expect(memories).toHaveLength(1);
    expect(memories[0].buffer.byteLength).toBe(size);
  });

  test('pointer data may be NULL and still be present', async () => {
    expect(await probe(['data'])).toEqual(['info: data: 18 0 0 NULL']);
  });
});
