import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { noneWaitsForCpu, peerCredentials, processStart } from '../../host/daemon/libc.js';
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

  it('sees threads waiting for a CPU while one runs on every CPU besides this one', async () => {
    // Busy processes, one per CPU: with this thread running too, more threads are runnable than there are CPUs.
    const busy: ChildProcess[] = [];
    for (let i = 0; i < availableParallelism(); i++) busy.push(spawn(process.execPath, ['-e', 'for (const t = Date.now(); Date.now() - t < 20000;);'], { stdio: 'ignore' }));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const seen: boolean[] = [];
      for (let i = 0; i < 50; i++) seen.push(noneWaitsForCpu());
      expect(seen.filter(Boolean).length).toBeLessThan(5);
    } finally {
      for (const c of busy) c.kill('SIGKILL');
      await Promise.all(busy.map((c) => new Promise((r) => c.exitCode !== null ? r(null) : c.once('exit', r))));
    }
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
