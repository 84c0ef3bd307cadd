import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { BIN, DaemonDir, hook, startDaemonChild } from '../support/daemon.js';

describe('pamwasm daemon on the command line', () => {
  it('refuses a socket path longer than a UNIX socket allows, saying what to do, and makes no folder for it', () => {
    const d = new DaemonDir();
    try {
      const socket = join(d.dir, 'x'.repeat(120), 'pamwasm.sock');
      const r = spawnSync(process.execPath, [BIN, 'daemon', '--socket', socket, '--registry', d.registry, '--user', 'root', '--log', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`the socket path ${socket} is ${Buffer.byteLength(socket)} bytes; a UNIX socket's path can have at most 107: choose a shorter --socket path`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(dirname(socket))).toBe(false);
    } finally {
      d.remove();
    }
  });

  it("refuses a registry another daemon serves, and leaves that daemon's socket serving", async () => {
    const d = new DaemonDir();
    const first = await startDaemonChild(d, ['--workers', '1']);
    try {
      const other = join(d.dir, 'other.sock');
      const r = spawnSync(process.execPath, [BIN, 'daemon', '--socket', other, '--registry', d.registry, '--user', 'root', '--log', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`another pamwasm daemon serves the registry ${d.registry} (it holds ${d.registry}-daemon.lock): stop it, or give this daemon a --registry of its own`);
      expect(existsSync(other)).toBe(false);
      // The same socket path too: refused before the first daemon's socket is touched.
      const same = spawnSync(process.execPath, [BIN, 'daemon', '--socket', d.socket, '--registry', d.registry, '--user', 'root', '--log', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
      expect(same.status).toBe(2);
      const stack = d.stack('session required pam_permit.wasm\n');
      const open = await hook(d.socket, { hook: 'open_session', stack });
      expect(open.code).toBe(PAM.SUCCESS.number);
      expect((await hook(d.socket, { hook: 'close_session', stack, sessionId: open.sessionId })).code).toBe(PAM.SUCCESS.number);
      // A kill -9 lets go of the lock: the next daemon serves the registry.
      await first.stop('SIGKILL');
      const next = await startDaemonChild(d, ['--workers', '1']);
      await next.stop();
    } finally {
      await first.stop();
      d.remove();
    }
  }, 60_000);

  it.each([
    ['soon', '--spin soon is not a duration such as 500ms, 2s, 12h or 7d'],
    ['101ms', '--spin 101ms is longer than 100ms: a worker would hold a CPU that long after every hook'],
  ])('refuses --spin %s with a usage error', (spin, message) => {
    const r = spawnSync(process.execPath, [BIN, 'daemon', '--spin', spin, '--socket', '/nonexistent/x.sock', '--log', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it.each(['0', '250us'])('serves sessions with --spin %s', async (spin) => {
    const d = new DaemonDir();
    const daemon = await startDaemonChild(d, ['--workers', '1', '--spin', spin]);
    try {
      const stack = d.stack('session required pam_permit.wasm\n');
      for (let i = 0; i < 3; i++) {
        const open = await hook(d.socket, { hook: 'open_session', stack });
        expect(open.code).toBe(PAM.SUCCESS.number);
        expect((await hook(d.socket, { hook: 'close_session', stack, sessionId: open.sessionId })).code).toBe(PAM.SUCCESS.number);
      }
    } finally {
      await daemon.stop();
      d.remove();
    }
  }, 60_000);

  it('forgets closed and failed sessions once --keep has passed, and keeps open ones', async () => {
    const d = new DaemonDir();
    const daemon = await startDaemonChild(d, ['--workers', '1', '--keep', '1s']);
    try {
      const stack = d.stack('session required pam_permit.wasm');
      const items = { service: 'sshd', user: 'alice', tty: 'pts/1' };
      const open = await hook(d.socket, { hook: 'open_session', stack, items });
      const closed = await hook(d.socket, { hook: 'open_session', stack, items: { ...items, tty: 'pts/2' } });
      expect((await hook(d.socket, { hook: 'close_session', stack, items: { ...items, tty: 'pts/2' }, sessionId: closed.sessionId })).code).toBe(PAM.SUCCESS.number);
      const failed = await hook(d.socket, { hook: 'open_session', stack: join(d.dir, 'missing.stack'), items });
      expect([open.code, failed.code]).toEqual([PAM.SUCCESS.number, PAM.SESSION_ERR.number]);
      await daemon.closesLogged([closed.sessionId]);
      const states = () => Object.fromEntries(d.rows().map((r) => [r.id, r.state]));
      expect(states()).toEqual({ [open.sessionId!]: 'open', [closed.sessionId!]: 'closed', [failed.sessionId!]: 'failed' });
      // Looked for every second (half of --keep, at least a second).
      await vi.waitFor(() => expect(states()).toEqual({ [open.sessionId!]: 'open' }), { timeout: 20_000, interval: 200 });
    } finally {
      await daemon.stop();
      d.remove();
    }
  }, 60_000);
});
