/**
 * Loading libpam: pam_start_confdir is detected when libpam loads, and a
 * libpam without it (Linux-PAM < 1.4.0) or no libpam at all gives one clear
 * typed error instead of a crash.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { PamError } from '../../host/errors/index.js';
import { PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

// Built without -lpam: a library that links libpam would let dlsym find
// libpam's pam_start_confdir through it.
const oldLibpam = dir.build('libpam_noconfdir', []);
dir.service('permit', 'session required pam_permit.so');

describe.each(MODES)('in %s mode', (mode) => {
  test('the system libpam has pam_start_confdir', async () => {
    const helper = await PamHelper.start({ mode });
    expect(await helper.ready).toMatchObject({ libpam: 'libpam.so.0', hasStartConfdir: true });
    await helper.close();
  });

  test('a confdir with a libpam that lacks pam_start_confdir fails with ERR_PAMWASM_NO_CONFDIR', async () => {
    const helper = await PamHelper.start({ mode, libpam: oldLibpam });
    expect(await helper.ready).toMatchObject({ hasStartConfdir: false });
    const err = await openPamHandle({ service: 'permit', user: 'alice', confdir: dir.path, helper }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_PAMWASM_NO_CONFDIR' });
    expect(err.message).toMatch(/has no pam_start_confdir \(Linux-PAM < 1\.4\.0\).*leave out `confdir`/);
    // Without a confdir, that libpam's pam_start is used.
    const h = await openPamHandle({ service: 'permit', user: 'alice', helper });
    expect((await h.openSession()).ok).toBe(true);
    await h.end();
    await helper.close();
  });

  test('a libpam that cannot be loaded fails with ERR_PAMWASM_LIBPAM_UNAVAILABLE', async () => {
    const err = await openPamHandle({ service: 'permit', confdir: dir.path, mode, libpam: `${dir.path}/no-such-libpam.so` }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_PAMWASM_LIBPAM_UNAVAILABLE' });
    expect(err.message).toContain('no-such-libpam.so');
  });

  test('a service with no config file and no `other` fails pam_start with PAM_ABORT', async () => {
    // pam_start_confdir reads confdir/<service>, then confdir/other; with
    // neither, _pam_init_handlers fails and pam_start gives PAM_ABORT.
    const err = await openPamHandle({ service: 'nowhere', user: 'alice', confdir: dir.path, mode }).catch((e) => e);
    expect(err).toBeInstanceOf(PamError);
    expect(err).toMatchObject({ code: 'ERR_PAMWASM_PAM', pamName: 'PAM_ABORT', pamCode: PAM.ABORT.number });
    expect(err.message).toMatch(/^pam_start_confdir failed: PAM_ABORT/);
  });
});
