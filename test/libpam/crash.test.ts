/**
 * A native module that crashes takes down its helper process only: the calls
 * waiting on that helper fail with a typed error, and the host and other
 * transactions go on.
 */
import { afterAll, expect, test } from 'vitest';
import { PamHelperCrashedError } from '../../host/errors/index.js';
import { PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { TempDir, recordingConversation } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

const segv = dir.build('pam_segv');
dir.service('crashes', `
  session required pam_debug.so open_session=success
  session required ${segv}
`);
dir.service('healthy', 'session required pam_debug.so open_session=success close_session=success');

test('a module that segfaults fails the call with a typed error while the host keeps serving other transactions', async () => {
  // Another transaction, in its own helper, with its session open across the crash.
  const { log, conversation } = recordingConversation();
  const other = await openPamHandle({ service: 'healthy', user: 'bob', confdir: dir.path, conversation });
  await other.openSession();

  const doomed = await openPamHandle({ service: 'crashes', user: 'alice', confdir: dir.path });
  const pid = doomed.helper.pid;
  const opening = doomed.openSession();
  const queued = doomed.getenvlist(); // waits behind the crashing call
  const err = await opening.catch((e) => e);
  expect(err).toBeInstanceOf(PamHelperCrashedError);
  expect(err).toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED', signal: 'SIGSEGV', call: 'pam_open_session' });
  expect(err.message).toContain(`libpam helper process ${pid} died from SIGSEGV during pam_open_session`);
  await expect(queued).rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED', call: 'pam_getenvlist' });
  await expect(doomed.closeSession()).rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED', call: 'pam_close_session' });
  await expect(doomed.end()).rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED' });

  // The other session closes normally, on its own handle.
  expect((await other.closeSession()).ok).toBe(true);
  await other.end();
  expect(log).toEqual(['info:open_session=success', 'info:close_session=success']);

  // And new transactions start as before.
  const fresh = await openPamHandle({ service: 'healthy', user: 'carol', confdir: dir.path });
  expect((await fresh.openSession()).ok).toBe(true);
  await fresh.end();
});

test('a crash in a shared helper fails the handles in it, not those of other helpers', async () => {
  const shared = await PamHelper.start();
  const spare = await PamHelper.start();
  const a = await openPamHandle({ service: 'healthy', user: 'a', confdir: dir.path, helper: shared });
  const b = await openPamHandle({ service: 'crashes', user: 'b', confdir: dir.path, helper: shared });
  const c = await openPamHandle({ service: 'healthy', user: 'c', confdir: dir.path, helper: spare });
  await a.openSession();
  await expect(b.openSession()).rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED' });
  await expect(a.closeSession()).rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED' });
  expect(shared.closed).toBe(true);
  await expect(openPamHandle({ service: 'healthy', user: 'd', confdir: dir.path, helper: shared }))
    .rejects.toMatchObject({ code: 'ERR_PAMWASM_PAM_HELPER_CRASHED', call: 'pam_start_confdir' });
  expect((await c.openSession()).ok).toBe(true);
  await c.closeSession();
  await c.end();
  await spare.close();
});
