import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerCredentials, processStart } from '../../host/daemon/libc.js';
import { processIdentity } from '../../host/sessions/registry.js';

describe('the daemon\'s system calls', () => {
  it('names a process by its start time as the registry does, and a gone one by none', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      for (const pid of [process.pid, 1, child.pid!]) expect([pid, processStart(pid)]).toEqual([pid, processIdentity(pid)]);
      expect(processStart(child.pid!)).toMatch(/^\d+$/);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(processStart(child.pid!)).toBeUndefined();
  });

  it('reads the peer of a UNIX socket as the kernel saw it at connect()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-libc-'));
    const path = join(dir, 's.sock');
    const server = createServer();
    const accepted = new Promise<number>((resolve) => server.once('connection', (s) => resolve((s as unknown as { _handle: { fd: number } })._handle.fd)));
    await new Promise<void>((r) => server.listen(path, r));
    const client = connect(path);
    try {
      const fd = await accepted;
      expect(peerCredentials(fd)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
      expect(peerCredentials(fd)).toEqual(peerCredentials(fd));
    } finally {
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
