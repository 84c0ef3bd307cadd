/**
 * The daemon's pending files (host/sessions/pending.ts) and their fold into
 * the registry: what a worker appends is what any reader of the registry
 * sees, once, whatever order the folds come in.
 */
import { appendFileSync, chmodSync, chownSync, copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePending, encodePending, PendingWriter, ROTATE_BYTES, type PendingClosed, type PendingOpen } from '../../host/sessions/pending.js';
import { Registry } from '../../host/sessions/registry.js';

const opened = (id: string, extra: Partial<PendingOpen> = {}): PendingOpen => ({
  k: 'open', id, state: 'open', service: 'sshd', user: 'alice', tty: 'pts/1', rhost: '10.0.0.1', ruser: null, stack: '/etc/pamwasm/sshd.stack',
  stackSha256: 'ab'.repeat(32), moduleDir: null, env: JSON.stringify({ LANG: 'C' }), snapshot: JSON.stringify({ cached: [], data: [['k', 'v']], modules: [] }),
  ownerPid: 4242, ownerStart: '777', at: '2026-12-04T01:02:03.000Z', code: 0, ...extra,
});
const closed = (id: string, extra: Partial<PendingClosed> = {}): PendingClosed => ({ k: 'closed', id, code: 0, by: 'daemon', from: 'open', at: '2026-12-04T01:05:00.000Z', ...extra });

let dir = '';
const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), 'pamwasm-pending-'));
  return join(dir, 'registry.db');
};
const pendingNames = () => readdirSync(dir).filter((n) => n.includes('-pending-')).sort();

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('pending records', () => {
  it('decode what was encoded, and stop at a record still being written or torn', () => {
    const a = encodePending(opened('a'));
    const b = encodePending(closed('a'));
    expect(decodePending(Buffer.concat([a, b]))).toEqual({ records: [opened('a'), closed('a')], used: a.length + b.length });
    // Half of the second record: only the first is whole.
    expect(decodePending(Buffer.concat([a, b.subarray(0, 9)]))).toEqual({ records: [opened('a')], used: a.length });
    // A length and bytes that are not a record (the end of a file written before a power loss).
    const torn = Buffer.from([5, 0, 0, 0, 0x7b, 0x22, 0x6b, 0x22, 0x3a]);
    expect(decodePending(Buffer.concat([a, torn, b])).used).toBe(a.length);
    // Zeros, as a file system may leave after a crash.
    expect(decodePending(Buffer.concat([a, Buffer.alloc(64)])).used).toBe(a.length);
    // JSON of the wrong shape is no record either.
    const wrong = Buffer.from(JSON.stringify({ ...closed('a'), from: 'failed' }));
    const framed = Buffer.concat([Buffer.from([wrong.length, 0, 0, 0]), wrong]);
    expect(decodePending(framed)).toEqual({ records: [], used: 0 });
  });

  it('a writer starts its next file past the rotation size, and never writes to the old one again', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    const big = 'x'.repeat(200_000);
    for (let i = 0; i * 200_000 < ROTATE_BYTES; i++) w.append(opened(`s${i}`, { env: JSON.stringify({ BIG: big }) }));
    expect(pendingNames()).toEqual(['registry.db-pending-run1-1-0', 'registry.db-pending-run1-1-1']);
    const oldSize = statSync(join(dir, 'registry.db-pending-run1-1-0')).size;
    w.append(closed('s0'));
    expect(statSync(join(dir, 'registry.db-pending-run1-1-0')).size).toBe(oldSize);
    expect(statSync(w.path).size).toBeGreaterThan(0);
    w.close();
    expect(() => new PendingWriter(path, '../etc')).toThrow(/group/);
  });
});

describe('folding pending files into the registry', () => {
  it('a reader of the registry sees the sessions a writer appended, and their closes', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    w.append(opened('s2', { state: 'failed', code: 14 }));
    const r = new Registry(path);
    expect(r.get('s1')).toMatchObject({
      id: 's1', state: 'open', service: 'sshd', user: 'alice', tty: 'pts/1', rhost: '10.0.0.1', ruser: null, env: { LANG: 'C' },
      snapshot: { cached: [], data: [['k', 'v']], modules: [] }, ownerPid: 4242, ownerStart: '777', openedAt: '2026-12-04T01:02:03.000Z', openCode: 0, closedAt: null,
    });
    expect(r.get('s2')).toMatchObject({ state: 'failed', openCode: 14, closedAt: '2026-12-04T01:02:03.000Z' });
    expect(r.findOpen({ service: 'sshd', user: 'alice', tty: 'pts/1', rhost: '10.0.0.1', ruser: null })?.id).toBe('s1');
    w.append(closed('s1', { code: 6, by: 'daemon' }));
    expect(r.get('s1')).toMatchObject({ state: 'closed', closeCode: 6, closedBy: 'daemon', closedAt: '2026-12-04T01:05:00.000Z' });
    expect(r.list(['open'])).toEqual([]);
    // Read once: a second fold has nothing new.
    expect(r.fold().records).toBe(0);
    w.close();
    r.close();
  });

  it('a claim sees a close that is only in a pending file, so a session closes once', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    const r = new Registry(path);
    const seen = r.get('s1')!;
    // The holder closed it; the claim of another closer comes after.
    w.append(closed('s1'));
    expect(r.claim(seen, ['opening', 'open'])).toBe(false);
    expect(r.get('s1')!.state).toBe('closed');
    w.close();
    r.close();
  });

  it('applying the same records again changes nothing', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    w.append(opened('s2'));
    w.append(closed('s1'));
    w.close();
    const r = new Registry(path);
    expect(r.fold().records).toBe(3);
    const before = r.list();
    // The same bytes under another writer's name, as after a crash between a file's removal and its offset's.
    copyFileSync(w.path, join(dir, 'registry.db-pending-run0-1-0'));
    expect(r.fold().records).toBe(3);
    expect(r.list()).toEqual(before);
    r.close();
  });

  it('a record still being written is folded once it is whole', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    const next = encodePending(opened('s2'));
    appendFileSync(w.path, next.subarray(0, 20));
    const r = new Registry(path);
    expect(r.list().map((s) => s.id)).toEqual(['s1']);
    appendFileSync(w.path, next.subarray(20));
    expect(r.list().map((s) => s.id)).toEqual(['s1', 's2']);
    w.close();
    r.close();
  });

  it('removes the files a writer moved on from once read, and the newest only when told its writer is gone', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    const big = 'y'.repeat(300_000);
    for (let i = 0; i * 300_000 < ROTATE_BYTES; i++) w.append(opened(`s${i}`, { env: JSON.stringify({ BIG: big }) }));
    const other = new PendingWriter(path, 'run1-2');
    other.append(opened('t1'));
    expect(pendingNames()).toEqual(['registry.db-pending-run1-1-0', 'registry.db-pending-run1-1-1', 'registry.db-pending-run1-2-0']);
    const r = new Registry(path);
    expect(r.fold().removed).toEqual(['registry.db-pending-run1-1-0']);
    expect(pendingNames()).toEqual(['registry.db-pending-run1-1-1', 'registry.db-pending-run1-2-0']);
    // The writer of run1-2 is gone: its last file goes once read.
    other.append(closed('t1'));
    other.close();
    expect(r.fold((group) => group === 'run1-2').removed).toEqual(['registry.db-pending-run1-2-0']);
    expect(r.get('t1')!.state).toBe('closed');
    expect(r.list().length).toBe(5);
    w.close();
    r.close();
  });

  it('removes the last file of a gone writer even when a record in it was cut short, and says so', () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    appendFileSync(w.path, encodePending(opened('s2')).subarray(0, 30));
    w.close();
    const r = new Registry(path);
    // Its writer may still finish the record: it stays.
    expect(r.fold()).toEqual({ records: 1, removed: [], torn: [] });
    expect(r.fold((group) => group === 'run1-1')).toEqual({ records: 0, removed: ['registry.db-pending-run1-1-0'], torn: [{ file: 'registry.db-pending-run1-1-0', bytes: 30 }] });
    expect(pendingNames()).toEqual([]);
    expect(r.list().map((s) => s.id)).toEqual(['s1']);
    r.close();
  });

  it("reads, as root, the files of the registry's owner (the daemon's user), and refuses a third user's", () => {
    const path = fresh();
    const w = new PendingWriter(path, 'run1-1');
    w.append(opened('s1'));
    w.close();
    const r = new Registry(path);
    chownSync(path, 65534, 65534);
    chownSync(w.path, 65534, 65534);
    expect(r.get('s1')?.state).toBe('open');
    writeFileSync(join(dir, 'registry.db-pending-other-1-0'), encodePending(opened('planted')), { mode: 0o600 });
    chownSync(join(dir, 'registry.db-pending-other-1-0'), 1234, 1234);
    expect(() => r.get('planted')).toThrow(/registry\.db-pending-other-1-0 is not a regular file of uid 65534 or 0/);
    r.close();
  });

  it('refuses a pending file it did not write: writable by others, or a symbolic link', () => {
    const path = fresh();
    writeFileSync(join(dir, 'registry.db-pending-evil-1-0'), encodePending(opened('planted')));
    chmodSync(join(dir, 'registry.db-pending-evil-1-0'), 0o666);
    const r = new Registry(path);
    expect(() => r.get('planted')).toThrow(/registry\.db-pending-evil-1-0 is not a regular file .* writable only by it/);
    rmSync(join(dir, 'registry.db-pending-evil-1-0'));
    writeFileSync(join(dir, 'elsewhere'), encodePending(opened('planted')), { mode: 0o600 });
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'registry.db-pending-evil-1-0'));
    expect(() => r.get('planted')).toThrow(/ELOOP/);
    r.close();
  });
});
