/**
 * The PAM environment and items: pam_env's values and pam_putenv's appear in
 * pam_getenvlist, and pam_exec's child sees PAM_TYPE, the items that were set
 * and the PAM environment, on open and on close.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

const envConf = dir.write('pam_env.conf', 'FROM_PAM_ENV_CONF DEFAULT=conf-value\n');
const envFile = dir.write('environment', 'FROM_PAM_ENV_FILE=file-value\n');
const logEnv = dir.write('log-env.sh', `#!/bin/sh\nenv | sort > "${dir.path}/$PAM_TYPE.$PAM_RUSER.env"\n`, 0o755);
dir.service('env', `
  session required pam_env.so conffile=${envConf} envfile=${envFile} readenv=1 user_readenv=0
  session required pam_exec.so ${logEnv}
`);
dir.service('items', 'session required pam_permit.so');

/** The environment pam_exec's child saw, as an object. */
function seenByExec(type: string, tag: string): Record<string, string> {
  const text = readFileSync(`${dir.path}/${type}.${tag}.env`, 'utf8');
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s, 2) as [string, string]));
}

describe.each(MODES)('in %s mode', (mode) => {
  test('pam_env\'s values and pam_putenv\'s appear in pam_getenvlist', async () => {
    const h = await openPamHandle({ service: 'env', user: 'alice', confdir: dir.path, mode, items: { ruser: `getenvlist-${mode}` } });
    await h.putenv('FROM_PUTENV=put-value');
    await h.openSession();
    const list = await h.getenvlist();
    expect(list).toContain('FROM_PAM_ENV_CONF=conf-value');
    expect(list).toContain('FROM_PAM_ENV_FILE=file-value');
    expect(list).toContain('FROM_PUTENV=put-value');
    expect(await h.getenv('FROM_PAM_ENV_FILE')).toBe('file-value');
    expect(await h.getenv('NOT_SET')).toBeUndefined();
    await h.putenv('FROM_PUTENV'); // a bare name deletes (pam_putenv(3))
    expect(await h.getenv('FROM_PUTENV')).toBeUndefined();
    await h.closeSession();
    await h.end();
  });

  test('pam_exec sees PAM_TYPE open_session and close_session and the items that were set', async () => {
    const tag = `exec-${mode}`;
    const h = await openPamHandle({
      service: 'env', user: 'alice', confdir: dir.path, mode,
      items: { tty: 'pts/7', rhost: '192.0.2.7' },
    });
    await h.setItem('ruser', tag);
    await h.putenv('FROM_PUTENV=put-value');
    await h.openSession();
    await h.setItem('tty', 'pts/8'); // close sees the item as it is then
    await h.closeSession();
    await h.end();

    const open = seenByExec('open_session', tag);
    expect(open).toMatchObject({
      PAM_TYPE: 'open_session', PAM_SERVICE: 'env', PAM_USER: 'alice', PAM_TTY: 'pts/7',
      PAM_RHOST: '192.0.2.7', PAM_RUSER: tag,
      FROM_PAM_ENV_CONF: 'conf-value', FROM_PAM_ENV_FILE: 'file-value', FROM_PUTENV: 'put-value',
    });
    expect(seenByExec('close_session', tag)).toMatchObject({ PAM_TYPE: 'close_session', PAM_TTY: 'pts/8', PAM_RUSER: tag });
  });

  test('string items are set and read back; the authtok stays out of the application\'s reach', async () => {
    const h = await openPamHandle({ service: 'items', user: 'alice', confdir: dir.path, mode, items: { rhost: 'r.example' } });
    expect(await h.getItem('service')).toBe('items');
    expect(await h.getItem('user')).toBe('alice');
    expect(await h.getItem('rhost')).toBe('r.example');
    expect(await h.getItem('tty')).toBeUndefined();
    await h.setItem('user', 'bob');
    await h.setItem('xdisplay', ':0');
    await h.setItem('user-prompt', 'Who? ');
    expect(await h.getItem('user')).toBe('bob');
    expect(await h.getItem('xdisplay')).toBe(':0');
    expect(await h.getItem('user-prompt')).toBe('Who? ');
    await h.setItem('rhost', null);
    expect(await h.getItem('rhost')).toBeUndefined();
    // pam_item.c: only modules may set or read PAM_AUTHTOK / PAM_OLDAUTHTOK.
    await expect(h.setItem('authtok', 'secret')).rejects.toMatchObject({ pamName: 'PAM_BAD_ITEM' });
    await expect(h.getItem('authtok')).rejects.toMatchObject({ pamName: 'PAM_BAD_ITEM', pamCode: PAM.BAD_ITEM.number });
    await expect(h.setItem('nope' as never, 'x')).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
    await h.end();
  });
});
