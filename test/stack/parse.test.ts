import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION, parseStackFile } from '../../host/stack/index.js';
import { assembleLines, tokenize } from '../../host/stack/tokens.js';
import { codeByToken } from '../../host/codes/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stack = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return parseStackFile(join(dir, name));
};
const n = (token: string) => codeByToken(token)!.number;

describe('reading pam.d files', () => {
  it('replaces a continuing backslash with a space, keeps the next line\'s blanks and cuts comments', () => {
    const { lines } = assembleLines('# comment\nsession required \\\n  pam_permit.wasm  # trailing\n\n   \nsession optional x.wasm\n');
    expect(lines).toEqual([
      { line: 2, text: 'session required    pam_permit.wasm  ' },
      { line: 6, text: 'session optional x.wasm\n' },
    ]);
  });

  it('keeps a bracketed token whole and unescapes \\]', () => {
    expect(tokenize('session [success=ok default=bad] pam_echo.wasm [hello world] [a\\]b]')).toEqual([
      'session', 'success=ok default=bad', 'pam_echo.wasm', 'hello world', 'a]b',
    ]);
  });

  it('reports a file that ends inside a continued line as fatal, with its line', () => {
    const s = stack('cont', 'session required pam_permit.wasm\nsession optional pam_permit.wasm \\\n');
    expect(s.fatal?.line).toBe(2);
    expect(s.fatal?.message).toMatch(/continued line/);
  });

  it('refuses a continued line that fills libpam\'s buffer up to a backslash at byte 1023, where libpam loops for ever', () => {
    const head = 'session required pam_permit.wasm ';
    const line = (n: number) => `${head}${'x'.repeat(n - head.length - 1)}\\\nsession optional pam_permit.wasm\n`;
    expect(assembleLines(line(1023)).end).toEqual({ line: 1, why: 'stuck' });
    expect(assembleLines(line(1022)).end).toBeUndefined();
    expect(stack('stuck', line(1023)).fatal?.message).toMatch(/read for ever/);
  });

  it('reads a line past 1023 bytes in pieces, each a line of its own', () => {
    const { lines } = assembleLines(`${'a'.repeat(1030)}\n`);
    expect(lines.map((l) => [l.line, l.text.length])).toEqual([[1, 1023], [1, 8]]);
  });

  it('bounds include cycles: the line that nests too deep fails, and a tree that doubles is refused', () => {
    const looped = stack('loop', `session include ${join(dir, 'loop')}\nsession optional x.wasm\n`);
    expect(looped.fatal).toBeUndefined();
    expect(looped.handlers.filter((h) => h.kind === 'must-fail')).toHaveLength(1);
    expect(looped.diagnostics.at(-1)?.message).toMatch(/more than 64 files read inside each other/);
    const doubled = stack('double', `session include ${join(dir, 'double')}\nsession include ${join(dir, 'double')}\n`);
    expect(doubled.fatal?.message).toMatch(/more than 4096 files read for one stack/);
  });

  it('reads Debian\'s @include as an include of the session lines, and a missing one as fatal', () => {
    writeFileSync(join(dir, 'common-session'), 'auth required pam_deny.wasm\nsession optional pam_echo.wasm [hi]\n');
    const s = stack('at-include', 'session required pam_permit.wasm\n@include common-session\nsession required pam_warn.wasm\n');
    expect(s.fatal).toBeUndefined();
    expect(s.handlers.map((h) => [h.file.split('/').pop(), h.line, h.module])).toEqual([
      ['at-include', 1, 'pam_permit.wasm'], ['common-session', 2, 'pam_echo.wasm'], ['at-include', 3, 'pam_warn.wasm'],
    ]);
    const missing = stack('at-include-missing', 'session required pam_permit.wasm\n@include nowhere\n');
    expect(missing.fatal?.line).toBe(2);
    expect(missing.fatal?.message).toMatch(/^@include nowhere: cannot read .*nowhere \(ENOENT\)\. Debian's libpam refuses the whole file\.$/);
  });
});

describe('controls', () => {
  it('gives the keyword controls libpam\'s actions', () => {
    const s = stack('kw', 'session required a.wasm\nsession requisite a.wasm\nsession sufficient a.wasm\nsession optional a.wasm\n');
    const [req, reqs, suff, opt] = s.handlers.map((h) => h.actions);
    expect([req[0], req[n('ignore')], req[n('session_err')]]).toEqual([ACTION.OK, ACTION.IGNORE, ACTION.BAD]);
    expect([reqs[0], reqs[n('session_err')]]).toEqual([ACTION.OK, ACTION.DIE]);
    expect([suff[0], suff[n('new_authtok_reqd')], suff[n('session_err')]]).toEqual([ACTION.DONE, ACTION.DONE, ACTION.IGNORE]);
    expect([opt[0], opt[n('session_err')]]).toEqual([ACTION.OK, ACTION.IGNORE]);
  });

  it('parses brackets with every action, jumps and a default', () => {
    const s = stack('br', 'session [success=2 ignore=ignore session_err=die abort=reset new_authtok_reqd=done default=ok] a.wasm\n');
    const a = s.handlers[0].actions;
    expect([a[0], a[n('ignore')], a[n('session_err')], a[n('abort')], a[n('new_authtok_reqd')], a[n('perm_denied')]])
      .toEqual([2, ACTION.IGNORE, ACTION.DIE, ACTION.RESET, ACTION.DONE, ACTION.OK]);
  });

  it('turns a malformed bracket into bad for every code and names file and line', () => {
    const s = stack('bad', '\nsession [success=maybe] a.wasm\n');
    expect(s.handlers[0].actions.every((x) => x === ACTION.BAD)).toBe(true);
    expect(s.diagnostics[0]).toMatchObject({ line: 2, severity: 'error' });
    expect(s.diagnostics[0].message).toMatch(/expecting an action or a jump count/);
  });

  it('makes a line without a module a failing line', () => {
    const s = stack('nomod', 'session required\n');
    expect(s.handlers[0].kind).toBe('must-fail');
    expect(s.diagnostics[0].message).toMatch(/no module named/);
  });
});

describe('include and substack', () => {
  it('reads include inline and substack one level down, session lines only', () => {
    writeFileSync(join(dir, 'common'), 'auth required pam_unix.so\nsession optional c.wasm\n');
    const s = stack('inc', 'session include common\nsession substack common\nsession required d.wasm\n');
    expect(s.handlers.map((h) => [h.kind, h.level, h.module])).toEqual([
      ['module', 0, 'c.wasm'], ['substack', 0, 'common'], ['module', 1, 'c.wasm'], ['module', 0, 'd.wasm'],
    ]);
  });

  it('makes a missing include a failing line with a diagnostic', () => {
    const s = stack('inc2', 'session include nowhere\n');
    expect(s.handlers[0].kind).toBe('must-fail');
    expect(s.diagnostics[0].message).toMatch(/include nowhere: cannot read .*nowhere \(ENOENT\)/);
  });

  it('fails a substack whose CRLF line, not continued by its backslash, shifts an argument [] into the module field, where libpam crashes', () => {
    // A backslash before a CR is text: the next line's tokens move one place
    // left and `[]` becomes a module that names nothing. Linux-PAM 1.5.2
    // leaves that handler half added in an included file and crashes on it.
    writeFileSync(join(dir, 'crlf-inner'), 'session \\\r\n[x] pam_debug.wasm [] a\r\nsession optional pam_permit.wasm\r\n');
    const s = stack('crlf-outer', `session substack ${join(dir, 'crlf-inner')}\nsession optional pam_permit.wasm\n`);
    expect(s.fatal).toBeUndefined();
    expect(s.handlers.map((h) => [h.kind, h.level, h.file.split('/').pop(), h.line])).toEqual([
      ['substack', 0, 'crlf-outer', 1], ['must-fail', 1, 'crlf-inner', 1], ['must-fail', 0, 'crlf-outer', 1], ['module', 0, 'crlf-outer', 2],
    ]);
    expect(s.diagnostics.filter((d) => d.file.endsWith('crlf-inner')).map((d) => d.line)).toContain(2);
    expect(s.diagnostics.at(-1)).toMatchObject({ line: 1, severity: 'error' });
    expect(s.diagnostics.at(-1)?.message).toMatch(/"" names no module .*gives up on the file/);
  });

  it('files a line of unknown type under auth at the top, so it never runs as session', () => {
    const s = stack('type', 'sesion required a.wasm\nsession required b.wasm\n');
    expect(s.handlers.map((h) => h.module)).toEqual(['b.wasm']);
    expect(s.diagnostics[0]).toMatchObject({ line: 1 });
    expect(s.diagnostics[0].message).toMatch(/illegal module type "sesion"/);
  });

  it('keeps lines of other types but does not run them', () => {
    const s = stack('types', 'auth required pam_unix.so\naccount required pam_unix.so\nsession required a.wasm\n');
    expect(s.lines.map((l) => l.type)).toEqual(['auth', 'account', 'session']);
    expect(s.handlers).toHaveLength(1);
  });
});

it('says which stack file is missing', () => {
  expect(() => parseStackFile(join(dir, 'absent'))).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_STACK_NOT_FOUND' }));
});
