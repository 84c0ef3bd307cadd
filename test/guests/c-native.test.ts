/**
 * The C reference modules against the real ones: each case runs one hook of
 * Linux-PAM 1.5.2's native module (pam_start_confdir on a temp config dir
 * with the single line `session required <module> <args>`) and of the .wasm
 * twin (under a plain JS host with the same items); the conversation and
 * the result must be the same.
 *
 * The native result passes through libpam's dispatcher, the twin's is the
 * module's own code; for one `required` line they differ only for
 * PAM_IGNORE, which leaves no impression and ends as PAM_PERM_DENIED.
 * Differences the sandbox imposes (pam_echo's %h and file=) are tested in
 * c-modules.test.ts instead.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeByName, codeByStatus, PAM, PAM_CODES } from '../../host/codes/index.js';
import { openPamHandle, PamHelper } from '../../host/libpam/index.js';
import { CBuilds, fakeHost, GUESTS } from './c-host.js';

const SECURITY_DIR = '/lib/x86_64-linux-gnu/security';

// A numeric rhost: libpam's audit record (pam_audit.c) hands PAM_RHOST to
// libaudit, which resolves a host name through DNS on every call; here one
// lost reply in about 25 costs the resolver's 5 s timeout, and that was most
// of this file's run time.
const ITEMS = { user: 'alice', tty: 'pts/3', rhost: '192.0.2.7', ruser: 'bob' };

type Hook = 'open' | 'close';
type Case = [module: string, hook: Hook, args: string[]];

const CASES: Case[] = [
  ...PAM_CODES.flatMap((c): Case[] => [
    ['pam_debug', 'open', [`open_session=${c.token}`]],
    ['pam_debug', 'close', [`close_session=${c.token}`]],
  ]),
  ['pam_debug', 'open', []],
  ['pam_debug', 'open', ['open_session']],
  ['pam_debug', 'open', ['open_session=bogus', 'open_session=session_err']],
  ['pam_debug', 'open', ['close_session=abort', 'open_session=perm_denied']],
  ['pam_debug', 'open', ['xopen_session=abort', 'open_session=ignore']],
  ...(['open', 'close'] as Hook[]).flatMap((hook): Case[] => [
    ['pam_permit', hook, []], ['pam_deny', hook, []], ['pam_warn', hook, []],
  ]),
  ['pam_echo', 'open', ['hello', '%u', 'on', '%t', 'from', '%H', '(%U)', 'svc=%s', '%%', '%x', 'end%']],
  ['pam_echo', 'open', []],
  ['pam_echo', 'close', ['x']],
  ['pam_echo', 'open', ['file=', 'a']],
  ['pam_echo', 'open', ['a'.repeat(600)]],
  ['pam_echo', 'open', ['%u'.repeat(300)]],
];

let confdir: string;
let helper: PamHelper;
const builds = new CBuilds();

beforeAll(async () => {
  confdir = mkdtempSync(join(tmpdir(), 'pamwasm-c-native-'));
  helper = await PamHelper.start({ mode: 'in-process' });
  await Promise.all(['pam_debug', 'pam_permit', 'pam_deny', 'pam_warn', 'pam_echo'].map((m) => builds.bytes(join(GUESTS, m))));
});

afterAll(async () => {
  await helper?.close();
  if (confdir) rmSync(confdir, { recursive: true, force: true });
  await builds.remove();
});

interface Outcome { code: string; messages: string[] }

async function native(module: string, hook: Hook, args: string[], silent: boolean): Promise<Outcome> {
  writeFileSync(join(confdir, 'svc'), `session required ${SECURITY_DIR}/${module}.so ${args.join(' ')}\n`);
  const messages: string[] = [];
  const h = await openPamHandle({
    service: 'svc', user: ITEMS.user, confdir, helper,
    items: { tty: ITEMS.tty, rhost: ITEMS.rhost, ruser: ITEMS.ruser },
    conversation: (ms) => ms.map((m) => { messages.push(`${m.style}: ${m.text}`); return null; }),
  });
  try {
    const r = hook === 'open'
      ? await h.openSession({ silent, throwOnError: false })
      : await h.closeSession({ silent, throwOnError: false });
    return { code: r.name, messages };
  } finally {
    await h.end();
  }
}

async function twin(module: string, hook: Hook, args: string[], silent: boolean): Promise<Outcome> {
  const host = fakeHost({ items: { service: 'svc', ...ITEMS } });
  const m = await builds.instance(join(GUESTS, module), host);
  const status = hook === 'open' ? m.openSession({ silent }, args) : m.closeSession({ silent }, args);
  const code = status === 'ignore' ? PAM.PERM_DENIED.name : codeByStatus(status).name;
  return { code, messages: host.messages };
}

describe('the C modules behave as Linux-PAM\'s own', () => {
  test('has the native twins to compare with (Debian\'s libpam-modules)', () => {
    for (const m of ['pam_debug', 'pam_permit', 'pam_deny', 'pam_warn', 'pam_echo']) expect(existsSync(join(SECURITY_DIR, `${m}.so`)), m).toBe(true);
  });

  test.each(CASES.flatMap(([m, h, a]) => [[m, h, a, false], [m, h, a, true]] as const))(
    '%s %s_session %j (silent: %s)',
    async (module, hook, args, silent) => {
      const expected = await native(module, hook, [...args], silent);
      expect(codeByName(expected.code)).toBeDefined();
      expect(await twin(module, hook, [...args], silent)).toEqual(expected);
    },
  );
});
