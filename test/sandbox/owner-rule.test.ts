/**
 * The one owner and mode rule and the one file identity of the sandbox's
 * file trust (host/sandbox/policy/owner.ts): every caller asks the same
 * code, including bin/pamwasm.js, which runs before dist's ES modules and
 * requires the rule's CommonJS build (dist/owner-rule.cjs).
 */
import { chmodSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileIdentity, folderProblem, ownerModeProblem } from '../../host/sandbox/index.js';
import { packageRoot } from '../../host/wit/index.js';

const ROOT = packageRoot();
const launcher = createRequire(import.meta.url)(join(ROOT, 'bin', 'pamwasm.js')) as {
  ownerRule: () => { ownerModeProblem: typeof ownerModeProblem } | undefined;
};

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-owner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODES = [0o100644, 0o100600, 0o100664, 0o100646, 0o100666, 0o040755, 0o040775, 0o041777, 0o040777, 0o120777, 0o020666];
const UIDS = [0, 1000, 65534];

describe('the owner and mode rule', () => {
  it('is the same rule in the launcher as in the host, for every owner, mode and kind', () => {
    const built = launcher.ownerRule();
    expect(built, 'dist/owner-rule.cjs is missing: run npm run build').toBeDefined();
    let refused = 0;
    for (const uid of UIDS) {
      for (const mode of MODES) {
        for (const owner of UIDS) {
          for (const dir of [false, true]) {
            for (const kind of [false, true]) {
              const o = { dir, owner, kind };
              const want = ownerModeProblem('p', uid, mode, o);
              expect(built!.ownerModeProblem('p', uid, mode, o), JSON.stringify({ uid, mode: mode.toString(8), ...o })).toBe(want);
              if (want) refused++;
            }
          }
        }
      }
    }
    // The grid holds both answers: a rule that refused everything (or nothing) would not pass.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(UIDS.length ** 2 * MODES.length * 4);
  });

  it('refuses a file of another owner or one its group or others can write, and accepts root\'s folders and sticky ones', () => {
    expect(ownerModeProblem('/m', 1000, 0o100644, { dir: false, owner: 0 })).toMatch(/owned by uid 1000, not root/);
    expect(ownerModeProblem('/m', 0, 0o100664, { dir: false, owner: 0 })).toMatch(/writable by its group/);
    expect(ownerModeProblem('/m', 0, 0o100646, { dir: false, owner: 0 })).toMatch(/writable by others/);
    expect(ownerModeProblem('/m', 0, 0o100644, { dir: false, owner: 0 })).toBeUndefined();
    expect(ownerModeProblem('/d', 0, 0o040755, { dir: true, owner: 1000 })).toBeUndefined();
    expect(ownerModeProblem('/tmp', 0, 0o041777, { dir: true, owner: 0 })).toBeUndefined();
    expect(ownerModeProblem('/d', 0, 0o040777, { dir: true, owner: 0 })).toMatch(/writable by others/);
    expect(ownerModeProblem('/l', 0, 0o120777, { dir: false, owner: 0, kind: true })).toMatch(/not a regular file/);
  });

  it('walks the folders above a file with the same rule', () => {
    chmodSync(dir, 0o777);
    try {
      expect(folderProblem(dir, process.getuid!())).toMatch(/writable by others/);
    } finally {
      chmodSync(dir, 0o700);
    }
    expect(folderProblem(dir, process.getuid!())).toBeUndefined();
  });
});

describe('a file identity', () => {
  const file = join(dir, 'id');
  const id = () => fileIdentity(statSync(file, { bigint: true }));

  it('changes when the file is rewritten with the same size, chmod-ed or replaced, and not when it is only read', () => {
    writeFileSync(file, 'aaaa');
    const first = id();
    expect(id()).toBe(first);
    const past = new Date(Date.now() - 60_000);
    utimesSync(file, past, past);
    const settled = id();
    expect(settled).not.toBe(first);
    writeFileSync(file, 'bbbb');
    utimesSync(file, past, past); // mtime put back: the ctime still moved
    const rewritten = id();
    expect(rewritten).not.toBe(settled);
    chmodSync(file, 0o600);
    expect(id()).not.toBe(rewritten);
    const moved = id();
    rmSync(file);
    writeFileSync(file, 'bbbb');
    expect(id()).not.toBe(moved);
  });
});
