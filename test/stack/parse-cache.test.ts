import { afterAll, afterEach, describe, expect, it, vi, beforeEach } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStackFile } from '../../host/stack/index.js';
import { createEngine } from '../../host/engine/index.js';

/** Each test's own engine: what one test keeps (parses, known files, verdicts) no other sees. */
let engine = createEngine();
beforeEach(() => { engine = createEngine(); });

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-parse-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const realNow = Date.now;
/** Files written so far count as settled (their times more than 2 s old). */
const later = () => vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 10_000);
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const modules = (stack: ReturnType<typeof parseStackFile>) => stack.handlers.map((h) => `${h.kind}:${h.module}:${h.args.join(',')}`);

describe('parsed stacks kept while their files are unchanged', () => {
  it('keeps a parse only once its files are settled, and it equals an uncached parse', () => {
    const top = write('a.stack', 'session required pam_permit.wasm x=1\nsession include a.inc\n# comment\nauth required pam_deny.wasm\n');
    write('a.inc', 'session optional pam_echo.wasm hi\n-session required missing.wasm\n');
    const fresh1 = parseStackFile(top, { strictPermissions: false, engine });
    const fresh2 = parseStackFile(top, { strictPermissions: false, engine });
    expect(fresh2).not.toBe(fresh1); // just written: not kept
    expect(fresh2).toEqual(fresh1);
    later();
    const kept = parseStackFile(top, { strictPermissions: false, engine });
    expect(parseStackFile(top, { strictPermissions: false, engine })).toBe(kept);
    expect(kept).toEqual(fresh1);
    expect(modules(kept)).toEqual(['module:pam_permit.wasm:x=1', 'module:pam_echo.wasm:hi', 'module:missing.wasm:']);
  });

  it('cannot be changed by a caller', () => {
    const top = write('frozen.stack', 'session required pam_permit.wasm a b\n');
    later();
    const s = parseStackFile(top, { strictPermissions: false, engine });
    expect(() => s.handlers.push(s.handlers[0])).toThrow(TypeError);
    expect(() => { s.handlers[0].args[0] = 'evil'; }).toThrow(TypeError);
    expect(() => { s.handlers[0].actions[0] = 0; }).toThrow(TypeError);
    expect(() => { s.handlers[0].spec!.grants.clocks = true; }).toThrow(TypeError);
    expect(() => s.diagnostics.push({ file: 'x', line: 1, severity: 'error', message: 'x' })).toThrow(TypeError);
    expect(parseStackFile(top, { strictPermissions: false, engine }).handlers[0].args).toEqual(['a', 'b']);
  });

  it('parses again when an include changes', () => {
    const top = write('b.stack', 'session include b.inc\n');
    const inc = write('b.inc', 'session required pam_permit.wasm\n');
    later();
    const before = parseStackFile(top, { strictPermissions: false, engine });
    expect(parseStackFile(top, { strictPermissions: false, engine })).toBe(before);
    writeFileSync(inc, 'session required pam_deny.wasm\n'); // same size: the ctime (and inode times) tell
    const after = parseStackFile(top, { strictPermissions: false, engine });
    expect(modules(after)).toEqual(['module:pam_deny.wasm:']);
    rmSync(inc);
    const gone = parseStackFile(top, { strictPermissions: false, engine });
    expect(gone.handlers.map((h) => h.kind)).toEqual(['must-fail']);
    expect(gone.diagnostics[0].message).toMatch(/ENOENT/);
    write('b.inc', 'session required pam_echo.wasm\n');
    expect(modules(parseStackFile(top, { strictPermissions: false, engine }))).toEqual(['module:pam_echo.wasm:']);
  });

  it('parses again when the top file changes or is replaced', () => {
    const top = write('c.stack', 'session required pam_permit.wasm\n');
    later();
    const before = parseStackFile(top, { strictPermissions: false, engine });
    expect(parseStackFile(top, { strictPermissions: false, engine })).toBe(before);
    writeFileSync(top, 'session required pam_deny.wasm\n');
    expect(modules(parseStackFile(top, { strictPermissions: false, engine }))).toEqual(['module:pam_deny.wasm:']);
    write('c2.stack', 'session required pam_echo.wasm\n');
    rmSync(top);
    writeFileSync(top, 'session required pam_warn.wasm\n');
    expect(modules(parseStackFile(top, { strictPermissions: false, engine }))).toEqual(['module:pam_warn.wasm:']);
    rmSync(top);
    expect(() => parseStackFile(top, { strictPermissions: false, engine })).toThrow(/does not exist/);
  });

  it.runIf(process.getuid?.() === 0)('runs the permission checks on every call, kept or not', async () => {
    const sub = join(dir, 'perm');
    mkdirSync(sub, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const incDir = join(sub, 'inc');
    mkdirSync(incDir, { mode: 0o755 });
    const top = join(sub, 'd.stack');
    writeFileSync(top, 'session include inc/d.inc\n');
    writeFileSync(join(incDir, 'd.inc'), 'session required pam_permit.wasm\n');
    later();
    const kept = parseStackFile(top, { strictPermissions: true, engine });
    expect(parseStackFile(top, { strictPermissions: true, engine })).toBe(kept);
    // A folder above the include becomes writable by others while the file
    // stays the same: refused once the kept verdict is a second old.
    chmodSync(incDir, 0o777);
    await new Promise((r) => setTimeout(r, 1100));
    const refused = parseStackFile(top, { strictPermissions: true, engine });
    expect(refused.handlers.map((h) => h.kind)).toEqual(['must-fail']);
    expect(refused.diagnostics[0].message).toMatch(/writable by others/);
    expect(parseStackFile(top, { strictPermissions: false, engine })).not.toBe(refused);
    chmodSync(incDir, 0o755);
    const again = parseStackFile(top, { strictPermissions: true, engine });
    expect(modules(again)).toEqual(['module:pam_permit.wasm:']);
    expect(parseStackFile(top, { strictPermissions: true, engine })).toBe(again);
    // The top file's folder: the call throws, as an uncached parse does.
    chmodSync(sub, 0o777);
    await new Promise((r) => setTimeout(r, 1100));
    expect(() => parseStackFile(top, { strictPermissions: true, engine })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
    chmodSync(sub, 0o755);
    expect(parseStackFile(top, { strictPermissions: true, engine })).toEqual(again);
  });

  it.runIf(process.getuid?.() === 0)('refuses at once another file put behind a path whose folder was opened to others', () => {
    const sub = join(dir, 'swap');
    mkdirSync(sub, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const top = join(sub, 's.stack');
    writeFileSync(top, 'session required pam_permit.wasm\n');
    later();
    const kept = parseStackFile(top, { strictPermissions: true, engine });
    expect(parseStackFile(top, { strictPermissions: true, engine })).toBe(kept);
    chmodSync(sub, 0o777);
    // Within the kept verdict's second, but the path now leads to another inode.
    writeFileSync(join(sub, 'new'), 'session required pam_deny.wasm\n');
    renameSync(join(sub, 'new'), top);
    expect(() => parseStackFile(top, { strictPermissions: true, engine })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
  });
});
