/**
 * Every code pam_debug can return (all of libpam's _pam_token_returns) comes
 * back from pam_open_session and pam_close_session with its number, its name
 * from host/codes and pam_strerror's text.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PAM, PAM_CODES } from '../../host/codes/index.js';
import { PamError } from '../../host/errors/index.js';
import { PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir, recordingConversation } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

for (const { token } of PAM_CODES) {
  // `[default=ok]` makes libpam hand the module's own code back for every
  // code (pam_dispatch.c); with `required`, PAM_IGNORE would become PAM_PERM_DENIED.
  dir.service(`debug-${token}`, `session [default=ok] pam_debug.so open_session=${token} close_session=${token}`);
}
// libpam remembers an incomplete open and answers any other call with
// PAM_ABORT until the open is re-run (pam_dispatch.c), so close_session's
// PAM_INCOMPLETE is checked after a successful open.
dir.service('debug-close-incomplete', 'session [default=ok] pam_debug.so open_session=success close_session=incomplete');

describe.each(MODES)('in %s mode', (mode) => {
  let helper: PamHelper;
  beforeAll(async () => { helper = await PamHelper.start({ mode }); });
  afterAll(() => helper.close());

  test.each(PAM_CODES.map((c) => [c.name, c] as const))('%s comes back from open and close', async (_, code) => {
    const { log, conversation } = recordingConversation();
    const h = await openPamHandle({ service: `debug-${code.token}`, user: 'alice', confdir: dir.path, conversation, helper });
    const message = await helper.strerror(code.number);

    const open = await h.openSession({ throwOnError: false });
    expect(open).toEqual({ call: 'pam_open_session', code: code.number, name: code.name, message, ok: code === PAM.SUCCESS });

    const close = await h.closeSession({ throwOnError: false });
    if (code === PAM.INCOMPLETE) {
      expect(close.name).toBe('PAM_ABORT');
    } else {
      expect(close).toEqual({ call: 'pam_close_session', code: code.number, name: code.name, message, ok: code === PAM.SUCCESS });
      expect(log).toEqual([`info:open_session=${code.token}`, `info:close_session=${code.token}`]);
    }
    await h.end({ throwOnError: false });
  });

  test('PAM_INCOMPLETE comes back from close after a successful open', async () => {
    const h = await openPamHandle({ service: 'debug-close-incomplete', user: 'alice', confdir: dir.path, helper });
    await h.openSession();
    expect((await h.closeSession({ throwOnError: false })).name).toBe('PAM_INCOMPLETE');
    await h.end({ throwOnError: false });
  });

  test('a failing code throws a PamError with number, name and pam_strerror text by default', async () => {
    const h = await openPamHandle({ service: 'debug-session_err', user: 'alice', confdir: dir.path, helper });
    const err: PamError = await h.openSession().catch((e) => e);
    expect(err).toBeInstanceOf(PamError);
    expect(err).toMatchObject({
      code: 'ERR_PAMWASM_PAM', pamCode: PAM.SESSION_ERR.number, pamName: 'PAM_SESSION_ERR',
      pamMessage: 'Cannot make/remove an entry for the specified session',
    });
    expect(err.message).toBe(`pam_open_session failed: PAM_SESSION_ERR (${PAM.SESSION_ERR.number}): ${err.pamMessage}`);
    await h.end({ throwOnError: false });
  });

  test('pam_strerror gives libpam\'s text for every code', async () => {
    expect(await helper.strerror(PAM.SUCCESS.number)).toBe('Success');
    expect(await helper.strerror(PAM.PERM_DENIED.number)).toBe('Permission denied');
    const texts = await Promise.all(PAM_CODES.map((c) => helper.strerror(c.number)));
    expect(new Set(texts).size).toBe(PAM_CODES.length);
  });
});
