import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { checkCodeReachable, closedFolderOn } from '../../host/daemon/privileges.js';
import { DaemonDir, hook, openFromApplication, startDaemonChild, type DaemonChild } from '../support/daemon.js';

/** nobody: a user every Debian system has (the pamwasm user exists only after `pamwasm install`). */
const NOBODY = 65534;
/** Opens one session from a process running as `uid`; resolves with the RESULT code (undefined: refused). */
const openAs = async (uid: number, socket: string, stack: string) => (await openFromApplication(socket, stack, 1, { uid })).codes[0];

const uids = (pid: number) => /Uid:\s+(.*)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1].trim().split(/\s+/).map(Number);

describe('the daemon\'s privileges', () => {
  let d: DaemonDir;
  let daemon: DaemonChild | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    d?.remove();
  });

  it('binds as root, then runs stacks as its own user, which cannot change them', async () => {
    d = new DaemonDir();
    chmodSync(d.dir, 0o755);
    const stack = d.stack('session required pam_stamp.wasm token=dropped');
    const theirs = d.stack('session required pam_permit.wasm');
    chownSync(theirs, NOBODY, NOBODY);
    daemon = await startDaemonChild(d, ['--user', 'nobody', '--workers', '1']);
    expect(uids(daemon.child.pid!)).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
    expect(statSync(dirname(d.registry)).uid).toBe(NOBODY);

    const o = await hook(d.socket, { hook: 'open_session', stack });
    expect(o.code).toBe(PAM.SUCCESS.number);
    const c = await hook(d.socket, { hook: 'close_session', stack, sessionId: o.sessionId });
    expect(c.messages).toEqual(['pam_stamp: token=dropped user=alice tty=ssh']);

    // A stack the daemon's user owns could be changed by a compromised daemon: refused.
    const refused = await hook(d.socket, { hook: 'open_session', stack: theirs });
    expect(refused.code).toBe(PAM.SESSION_ERR.number);
    await daemon.waitFor(new RegExp(`open session=${refused.sessionId} .*code=PAM_SESSION_ERR: .*owned by uid ${NOBODY}, not root`));
  }, 60_000);

  it('finds the folder its user may not enter on the way to its code, and refuses to start under one', () => {
    const nobody = { name: 'nobody', uid: NOBODY, gid: NOBODY };
    const top = mkdtempSync(join(tmpdir(), 'pamwasm-reach-'));
    try {
      mkdirSync(join(top, 'pkg'), { mode: 0o755 });
      chmodSync(top, 0o700);
      expect(closedFolderOn(join(top, 'pkg'), nobody)).toBe(top);
      // Its own folder, or one its group may enter, is open to it.
      chownSync(top, NOBODY, 0);
      expect(closedFolderOn(join(top, 'pkg'), nobody)).toBeUndefined();
      chownSync(top, 0, NOBODY);
      chmodSync(top, 0o710);
      expect(closedFolderOn(join(top, 'pkg'), nobody)).toBeUndefined();
      chmodSync(top, 0o755);
      chownSync(top, 0, 0);
      expect(closedFolderOn(join(top, 'pkg'), nobody)).toBeUndefined();
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
    // This checkout is one every user may enter here (the tests above run daemons as nobody from it).
    expect(() => checkCodeReachable(nobody)).not.toThrow();
  });

  it('serves only peers whose SO_PEERCRED uid is root or allowed', async () => {
    d = new DaemonDir();
    chmodSync(d.dir, 0o755);
    const stack = d.stack('session required pam_permit.wasm');
    daemon = await startDaemonChild(d, ['--workers', '1']);
    expect(await openAs(NOBODY, d.socket, stack)).toBeUndefined();
    await daemon.waitFor(new RegExp(`refused a connection: peer uid ${NOBODY} pid \\d+ is not allowed`));
    expect(d.rows()).toEqual([]);
    expect(await openAs(0, d.socket, stack)).toBe(PAM.SUCCESS.number);
    await daemon.stop();

    daemon = await startDaemonChild(d, ['--workers', '1', '--allow', 'nobody']);
    expect(await openAs(NOBODY, d.socket, stack)).toBe(PAM.SUCCESS.number);
  }, 60_000);
});
