/**
 * Every stack call of the application API reaches the modules, with the flags
 * named by its options (pam_flags.so records them by macro name), and the
 * handle's lifecycle is enforced.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir, recordingConversation } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

const flags = dir.build('pam_flags');
dir.service('flags', ['auth', 'account', 'password', 'session'].map((t) => `${t} required ${flags}`).join('\n'));
dir.service('debug', `
  auth     required pam_debug.so auth=success cred=cred_err
  account  required pam_debug.so acct=new_authtok_reqd
  password required pam_debug.so prechauthtok=success chauthtok=authtok_err
  session  required pam_debug.so
`);

describe.each(MODES)('in %s mode', (mode) => {
  test('each call passes the flags its options name', async () => {
    const h = await openPamHandle({ service: 'flags', user: 'alice', confdir: dir.path, mode });
    await h.authenticate();
    await h.authenticate({ silent: true, disallowNullAuthtok: true });
    const afterAuth = await h.getenv('FLAGS_authenticate');
    await h.acctMgmt({ disallowNullAuthtok: true });
    await h.setcred();
    const establish = await h.getenv('FLAGS_setcred');
    await h.setcred({ action: 'refresh', silent: true });
    await h.chauthtok({ changeExpiredAuthtok: true });
    await h.openSession({ silent: true });
    await h.closeSession();
    expect(afterAuth).toBe('silent,disallow_null_authtok');
    expect(establish).toBe('establish_cred');
    expect(await h.getenv('FLAGS_acct_mgmt')).toBe('disallow_null_authtok');
    expect(await h.getenv('FLAGS_setcred')).toBe('silent,refresh_cred');
    expect(await h.getenv('FLAGS_prechauthtok')).toBe('change_expired_authtok,prelim_check');
    expect(await h.getenv('FLAGS_chauthtok')).toBe('change_expired_authtok,update_authtok');
    expect(await h.getenv('FLAGS_open_session')).toBe('silent');
    expect(await h.getenv('FLAGS_close_session')).toBe('');
    for (const action of ['delete', 'reinitialize'] as const) {
      await h.setcred({ action });
      expect(await h.getenv('FLAGS_setcred')).toBe(`${action}_cred`);
    }
    await expect(h.setcred({ action: 'burn' as never })).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
    await h.end();
  });

  test('each call returns the code its stack gave', async () => {
    const { log, conversation } = recordingConversation();
    const h = await openPamHandle({ service: 'debug', user: 'alice', confdir: dir.path, mode, conversation });
    const name = async (p: Promise<{ name: string }>) => (await p).name;
    expect(await name(h.authenticate())).toBe('PAM_SUCCESS');
    expect(await name(h.setcred({ throwOnError: false }))).toBe('PAM_CRED_ERR');
    expect(await name(h.acctMgmt({ throwOnError: false }))).toBe('PAM_NEW_AUTHTOK_REQD');
    expect(await name(h.chauthtok({ throwOnError: false }))).toBe('PAM_AUTHTOK_ERR');
    expect(await name(h.openSession())).toBe('PAM_SUCCESS');
    expect(await name(h.closeSession())).toBe('PAM_SUCCESS');
    expect(log).toEqual([
      'info:auth=success', 'info:cred=cred_err', 'info:acct=new_authtok_reqd',
      'info:prechauthtok=success', 'info:chauthtok=authtok_err',
    ]);
    const end = await h.end();
    expect(end.name).toBe('PAM_SUCCESS');
  });

  test('closing a shared helper ends the handles still open in it', async () => {
    const helper = await PamHelper.start({ mode });
    const h = await openPamHandle({ service: 'debug', user: 'alice', confdir: dir.path, helper });
    await h.openSession();
    expect((await helper.stats()).handles).toBe(1);
    await helper.close();
    expect(helper.closed).toBe(true);
    await expect(h.closeSession()).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
  });

  test('a handle cannot be used after pam_end', async () => {
    const h = await openPamHandle({ service: 'debug', user: 'alice', confdir: dir.path, mode });
    await h.end();
    await expect(h.openSession()).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
    await expect(h.end()).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
    expect(h.helper.closed).toBe(true); // its own helper went with it
  });
});
