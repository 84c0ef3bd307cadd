/**
 * The proof that stacks behave in pamwasm exactly as in libpam: the same
 * stack text runs through the real libpam (pam_start_confdir, native
 * pam_debug.so / pam_permit.so / pam_deny.so) and through pamwasm (the
 * bundled .wasm twins); open and close codes and the conversation must be
 * identical. Random stacks (seeded) plus a named case for every rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../host/engine/index.js';
import { runStack } from '../../host/stack/index.js';
import { nativeSession, PamHelper } from '../support/native.js';
import { generateStack, render, writeStack, type GeneratedStack } from '../support/stackgen.js';

const COUNT = Number(process.env.PAMWASM_DIFF_STACKS ?? 5000);
const SEED = Number(process.env.PAMWASM_DIFF_SEED ?? 20261121);

let root: string;
let helper: PamHelper;
/** This file's engine, as one host's: each module is loaded once for all the stacks. */
const engine = createEngine();
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pamwasm-diff-'));
  helper = await PamHelper.start({ mode: 'in-process' });
});
afterAll(async () => {
  await helper?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Outcome {
  open: string;
  close: string;
  messages: string[];
}

async function both(stack: GeneratedStack, name: string): Promise<{ native: Outcome; wasm: Outcome }> {
  // Directory names of one length: a long line is cut at the same byte in both files.
  const nativeDir = join(root, name, 'n');
  const wasmDir = join(root, name, 'w');
  writeStack(stack, nativeDir, '.so');
  const wasmFile = writeStack(stack, wasmDir, '.wasm');
  const n = await nativeSession({ service: stack.main, confdir: nativeDir, helper, startFailure: 'codes' });
  const w = await runStack({ stackFile: wasmFile, items: { service: stack.main, user: 'alice' }, engine });
  const fmt = (m: { style: string; text: string }) => `${m.style}: ${m.text}`;
  return {
    native: { open: n.open.name, close: n.close.name, messages: n.messages.map(fmt) },
    wasm: { open: w.open!.name, close: w.close!.name, messages: w.messages.map(fmt) },
  };
}

/** Lines joined with newlines (a text given whole is written as it is). */
const stackOf = (lines: string[] | string, extra: Record<string, string[] | string> = {}, dirs?: string[]): GeneratedStack => ({
  main: 'svc',
  files: Object.fromEntries(Object.entries({ svc: lines, ...extra }).map(([n, l]) => [n, typeof l === 'string' ? l : `${l.join('\n')}\n`])),
  ...(dirs ? { dirs } : {}),
});

describe('random stacks run identically in libpam and pamwasm', () => {
  it(`${COUNT} seeded stacks give the same open and close codes and messages`, async () => {
    const started = Date.now();
    let compared = 0;
    for (let i = 0; i < COUNT; i++) {
      const seed = SEED + i;
      const stack = generateStack(seed);
      const { native, wasm } = await both(stack, `r${i % 50}`);
      if (JSON.stringify(native) !== JSON.stringify(wasm)) {
        expect.soft(wasm, `seed ${seed} differs; stack:\n${render(stack)}\n(re-run with PAMWASM_DIFF_SEED=${seed} PAMWASM_DIFF_STACKS=1)`).toEqual(native);
        return;
      }
      compared++;
    }
    console.log(`differential: ${compared} random stacks compared with libpam in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`);
    expect(compared).toBe(COUNT);
  }, 600_000);
});

describe('pamwasm run drives the same stacks', () => {
  it('gives libpam\'s codes and messages through the CLI for 20 random stacks', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'pamwasm.js');
    for (let i = 0; i < 20; i++) {
      const seed = SEED + 100_000 + i;
      const stack = generateStack(seed);
      const nativeDir = join(root, `cli${i}`, 'n');
      writeStack(stack, nativeDir, '.so');
      const wasmFile = writeStack(stack, join(root, `cli${i}`, 'w'), '.wasm');
      const n = await nativeSession({ service: stack.main, confdir: nativeDir, helper, startFailure: 'codes' });
      const r = spawnSync(process.execPath, [bin, 'run', '--stack', wasmFile, '--service', stack.main, '--user', 'alice', '--json'], { encoding: 'utf8' });
      expect([0, 1], r.stderr).toContain(r.status);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      expect({ open: out.open, close: out.close, messages: out.messages }, `seed ${seed}:\n${render(stack)}`)
        .toEqual({ open: n.open, close: n.close, messages: n.messages });
    }
  }, 300_000);
});

/** Marks an extra file of a case as a directory. */
const DIRECTORY = Symbol('directory');

/** A case of `n` files, each of which includes or substacks the next, with a line after it. */
function chain(n: number, how: string, expected: Partial<Outcome>): [string[], Partial<Outcome>, Record<string, string[]>] {
  const files: Record<string, string[]> = {};
  const file = (i: number) => [`session ${how} @DIR@/s${i + 1}`, `session required pam_debug@EXT@ open_session=${i % 2 ? 'success' : 'ignore'}`];
  for (let i = 1; i < n; i++) files[`s${i}`] = file(i);
  files[`s${n}`] = ['session required pam_debug@EXT@ open_session=session_err'];
  return [file(0), expected, files];
}

// One case per rule of libpam's dispatcher and reader; each states what libpam does.
const CASES: [string, string[] | string, Partial<Outcome>, Record<string, string[] | string | typeof DIRECTORY>?][] = [
  ['a required failure does not stop the stack; the first failure is the result',
    ['session required pam_deny@EXT@', 'session required pam_debug@EXT@ open_session=success'], { open: 'PAM_SESSION_ERR' }],
  ['requisite ends the stack at once',
    ['session requisite pam_debug@EXT@ open_session=perm_denied', 'session required pam_debug@EXT@ open_session=success'], { open: 'PAM_PERM_DENIED', messages: ['info: open_session=perm_denied'] }],
  ['sufficient success ends the stack when nothing failed before',
    ['session sufficient pam_permit@EXT@', 'session required pam_deny@EXT@'], { open: 'PAM_SUCCESS' }],
  ['sufficient success does not undo an earlier required failure',
    ['session required pam_deny@EXT@', 'session sufficient pam_permit@EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_SESSION_ERR' }],
  ['success without a positive impression is PAM_PERM_DENIED',
    ['session optional pam_debug@EXT@ open_session=ignore close_session=ignore'], { open: 'PAM_PERM_DENIED', close: 'PAM_PERM_DENIED' }],
  ['an optional failure alone is the result when nothing else decided',
    ['session optional pam_deny@EXT@'], {}],
  ['new_authtok_reqd counts as ok for required',
    ['session required pam_debug@EXT@ open_session=new_authtok_reqd'], { open: 'PAM_NEW_AUTHTOK_REQD' }],
  ['a bracket jump skips lines',
    ['session [success=1 default=ignore] pam_debug@EXT@ open_session=success', 'session required pam_deny@EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_SUCCESS' }],
  ['a jump past the end of the stack is a bad jump that fails',
    ['session [success=3 default=ignore] pam_permit@EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_PERM_DENIED' }],
  ['reset forgets what came before',
    ['session required pam_deny@EXT@', 'session [success=reset default=reset] pam_permit@EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_SUCCESS' }],
  ['die inside a substack ends only the substack',
    ['session substack @DIR@/inner', 'session required pam_debug@EXT@ open_session=success'], {},
    { inner: ['session [default=die] pam_debug@EXT@ open_session=session_err', 'session required pam_debug@EXT@ open_session=abort'] }],
  ['done inside a substack ends only the substack',
    ['session substack @DIR@/inner', 'session required pam_deny@EXT@'], { open: 'PAM_SESSION_ERR' },
    { inner: ['session sufficient pam_permit@EXT@', 'session required pam_debug@EXT@ open_session=abort'] }],
  ['a jump inside a substack stays inside it',
    ['session substack @DIR@/inner', 'session required pam_debug@EXT@ open_session=success'], {},
    { inner: ['session [success=1 default=ignore] pam_permit@EXT@', 'session required pam_deny@EXT@', 'session required pam_debug@EXT@ open_session=success'] }],
  ['reset inside a substack restores the state at its entry',
    ['session required pam_deny@EXT@', 'session substack @DIR@/inner'], { open: 'PAM_SESSION_ERR' },
    { inner: ['session required pam_permit@EXT@', 'session [default=reset] pam_permit@EXT@'] }],
  ['include runs the lines inline, so done ends the whole stack',
    ['session include @DIR@/inner', 'session required pam_deny@EXT@'], { open: 'PAM_SUCCESS' },
    { inner: ['auth required pam_deny@EXT@', 'session sufficient pam_permit@EXT@'] }],
  ['@include runs the lines inline, as Debian\'s libpam reads it',
    ['@include @DIR@/inner', 'session required pam_deny@EXT@'], { open: 'PAM_SUCCESS', messages: ['info: open_session=success'] },
    { inner: ['auth required pam_deny@EXT@', 'session sufficient pam_debug@EXT@ open_session=success'] }],
  ['a missing include fails its line',
    ['session include @DIR@/nowhere', 'session optional pam_permit@EXT@'], {}],
  ['close follows the chain frozen at open',
    ['session [success=ok default=ignore] pam_debug@EXT@ open_session=session_err close_session=success', 'session required pam_debug@EXT@ open_session=success close_session=success'], {}],
  ['close jumps as open jumped',
    ['session [success=1 default=ignore] pam_debug@EXT@ open_session=success close_session=session_err', 'session required pam_debug@EXT@ open_session=perm_denied close_session=perm_denied', 'session required pam_permit@EXT@'], {}],
  ['PAM_INCOMPLETE at open makes close abort',
    ['session required pam_debug@EXT@ open_session=incomplete'], { open: 'PAM_INCOMPLETE', close: 'PAM_ABORT' }],
  ['abort is a failure like any other',
    ['session required pam_debug@EXT@ open_session=abort', 'session required pam_permit@EXT@'], { open: 'PAM_ABORT' }],
  ['a malformed bracket makes every code bad',
    ['session [success=maybe] pam_permit@EXT@', 'session optional pam_permit@EXT@'], {}],
  ['a missing module is PAM_MODULE_UNKNOWN, also on a -session line',
    ['-session required pam_missing@EXT@', 'session required pam_missing@EXT@', 'session optional pam_permit@EXT@'], { open: 'PAM_MODULE_UNKNOWN' }],
  ['a stack with no session lines fails',
    ['auth required pam_permit@EXT@'], { open: 'PAM_PERM_DENIED', close: 'PAM_PERM_DENIED' }],
  ['continued lines and comments read as libpam reads them',
    ['# a comment', 'session \\', '  required pam_debug@EXT@ \\', '  open_session=session_err # trailing', 'session optional pam_permit@EXT@'], { open: 'PAM_SESSION_ERR' }],
  ['bracketed args keep their spaces',
    ['session optional pam_echo@EXT@ [hello %u from %s] tail', 'session required pam_permit@EXT@'], { messages: ['info: hello alice from svc tail'] }],
  // How libpam reads the text (pam_handlers.c, _pam_assemble_line and _pam_parse_conf_file).
  ['comment and blank lines inside a continued line are skipped, and the line goes on',
    ['session required \\', '# a comment', '', '  pam_debug@EXT@ open_session=session_err'], { open: 'PAM_SESSION_ERR' }],
  ['a file that ends inside a continued line, even after blank lines, is refused',
    'session required pam_permit@EXT@ \\\n\n', { open: 'PAM_ABORT', close: 'PAM_ABORT' }],
  ['a carriage return is text: a CRLF line names a module whose path ends in it',
    'session optional pam_debug@EXT@ open_session=session_err\r\nsession required pam_permit@EXT@\r\n', { open: 'PAM_MODULE_UNKNOWN' }],
  ['a last line without its newline is read',
    'session required pam_debug@EXT@ open_session=session_err', { open: 'PAM_SESSION_ERR' }],
  ['a NUL byte ends what libpam sees of its line',
    'session required pam_debug@EXT@ open_session=success\0 open_session=abort\n', { open: 'PAM_SUCCESS', messages: ['info: open_session=success'] }],
  ['type words, keyword controls and include match in any case, bracket words only in lower case',
    ['SESSION Include @DIR@/inner', 'Session [Success=Ok] pam_permit@EXT@'], { open: 'PAM_PERM_DENIED' },
    { inner: ['sEsSiOn REQUIRED pam_debug@EXT@ open_session=success'] }],
  ['@INCLUDE and -@include are @include',
    ['@INCLUDE @DIR@/inner', '-@include @DIR@/inner'], { open: 'PAM_SUCCESS', messages: ['info: open_session=success', 'info: open_session=success'] },
    { inner: ['session required pam_debug@EXT@ open_session=success'] }],
  ['a line past 1023 bytes is cut there, and the rest read as a line of its own',
    [`session optional pam_echo@EXT@ ${'x'.repeat(992)} session required pam_deny@EXT@`], { open: 'PAM_SESSION_ERR' }],
  ['a bracketed module field of one word or none is the path as written, blanks included',
    ['session required [ ]', 'session optional pam_permit@EXT@'], { open: 'PAM_MODULE_UNKNOWN' }],
  ['an unterminated bracket takes the rest of the line as the control',
    ['session [success=ok default=bad pam_permit@EXT@', 'session optional pam_permit@EXT@'], { open: 'PAM_PERM_DENIED' }],
  ['a jump count wraps as a C int: 4294967297 jumps one line',
    ['session [success=4294967297 default=ignore] pam_permit@EXT@', 'session required pam_deny@EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_SUCCESS' }],
  // Lines libpam cannot add, in the service file or in what it includes.
  ['a module that names nothing (".so", "?") refuses the whole service file, in a line of any type',
    ['auth required @EXT@', 'session required pam_permit@EXT@'], { open: 'PAM_ABORT', close: 'PAM_ABORT' }],
  ['a failing @include refuses the service file',
    ['session required pam_permit@EXT@', '@include @DIR@/nowhere'], { open: 'PAM_ABORT', close: 'PAM_ABORT' }],
  ['a failing @include in an included file fails its line with the actions of the line before',
    ['session include @DIR@/inner', 'session required pam_permit@EXT@'], { open: 'PAM_SUCCESS' },
    { inner: ['session optional pam_debug@EXT@ open_session=success', '@include @DIR@/nowhere'] }],
  ['an unknown type in an included file is a failing session line',
    ['session include @DIR@/inner', 'session optional pam_permit@EXT@'], { open: 'PAM_PERM_DENIED' }, { inner: ['sesion required pam_permit@EXT@'] }],
  ['an empty file, a file of comments and a directory include nothing',
    ['session include @DIR@/empty', 'session substack @DIR@/comments', 'session include @DIR@/dir', 'session required pam_permit@EXT@'], { open: 'PAM_SUCCESS' },
    { empty: '', comments: '# nothing\n\n  # here \\\n', dir: DIRECTORY }],
  ['a relative include that is in neither directory fails its line',
    ['session include nonexistent-include-name', 'session optional pam_permit@EXT@'], { open: 'PAM_PERM_DENIED' }],
  ['substacks nest 15 deep; the next one fails its line', ...chain(16, 'substack', { open: 'PAM_PERM_DENIED' })],
  ['include nests deeper, for it does not count as a substack level', ...chain(20, 'include', { open: 'PAM_SESSION_ERR' })],
];

describe('every dispatch rule, named', () => {
  for (const [name, lines, expected, extra] of CASES) {
    it(name, async () => {
      const files = Object.entries(extra ?? {});
      const dirs = files.filter(([, t]) => t === DIRECTORY).map(([n]) => n);
      const texts = Object.fromEntries(files.filter(([, t]) => t !== DIRECTORY)) as Record<string, string[] | string>;
      const { native, wasm } = await both(stackOf(lines, texts, dirs), name.replace(/\W+/g, '-'));
      expect(wasm).toEqual(native);
      expect(native).toMatchObject(expected);
    });
  }
});

// Texts on which libpam 1.5.2 crashes (docs/stacks.md) cannot be compared: pamwasm alone must fail closed.
describe('texts libpam crashes on fail closed in pamwasm', () => {
  it('a CRLF line whose backslash does not continue it, shifting [] into the module field of a substack, fails the substack', async () => {
    const dir = join(root, 'crlf-shift');
    const file = writeStack(stackOf(['session substack @DIR@/inner', 'session optional pam_permit@EXT@'],
      { inner: 'session \\\r\n[x] pam_debug@EXT@ [] open_session=success\r\nsession optional pam_permit@EXT@\r\n' }), dir, '.wasm');
    const w = await runStack({ stackFile: file, items: { service: 'svc', user: 'alice' }, engine });
    expect({ open: w.open?.name, close: w.close?.name, messages: w.messages }).toEqual({ open: 'PAM_PERM_DENIED', close: 'PAM_PERM_DENIED', messages: [] });
  });
});
