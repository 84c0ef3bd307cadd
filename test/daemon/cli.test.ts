import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, DaemonDir } from '../support/daemon.js';

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
});
