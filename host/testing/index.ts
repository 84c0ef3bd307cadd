// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * A test harness for module authors: runs one module, or a stack, through
 * the real dispatcher and sandbox with given items, environment, flags and
 * scripted prompt answers, and returns everything to assert on: each hook's
 * code, the messages shown, the prompts asked, the PAM environment, each
 * line's module data, the syslog lines and the trace. Works with any test
 * runner (node:test, vitest, jest).
 *
 * @example
 *   import { test } from 'node:test';
 *   import assert from 'node:assert/strict';
 *   import { runModule } from 'pamwasm/testing';
 *
 *   test('greets the user', async () => {
 *     const r = await runModule({ module: 'hello.wasm', args: ['shout'], items: { user: 'alice' }, answers: ['yes'] });
 *     assert.equal(r.open?.name, 'PAM_SUCCESS');
 *     assert.deepEqual(r.messages, [{ style: 'info', text: 'HELLO ALICE' }]);
 *   });
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors/index.js';
import { newHandleState, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { scriptedConversation, type Answerer, type PromptRecord } from '../stack/answers.js';
import { parseStackFile, type Diagnostic } from '../stack/parse.js';
import { runHooks } from '../stack/run.js';
import type { SandboxDefaults } from '../stack/line-options.js';
import { StackSession, type TraceEntry } from '../stack/session.js';
import { createEngine, type Engine } from '../engine/index.js';

export type { PromptRecord, Answerer } from '../stack/answers.js';

export interface ModuleTestOptions {
  /** A module file: the run's stack is the one line `session <control> <module> <args>`. */
  module?: string;
  /** The module's arguments (with `module`). */
  args?: string[];
  /** The control of that line (default `required`). */
  control?: string;
  /** A stack file to run instead of one module. */
  stack?: string;
  /** A stack's text to run instead (pam.d syntax), e.g. written next to the result it should give. */
  stackText?: string;
  /** Where relative module names in the stack are found (default: the bundled modules, as `pamwasm run`). */
  moduleDir?: string;
  /** PAM items; service and user default to `test` and `tester`. */
  items?: Partial<Record<WitItem, string>>;
  /** The PAM environment before the run. */
  env?: Record<string, string>;
  /** PAM_SILENT. */
  silent?: boolean;
  /** Which hooks run (default both: open, then close on the same instances). */
  phase?: 'open' | 'close' | 'both';
  /** Answers to the modules' prompts, in order, or a function of the prompt; a prompt without one gets conv-err. */
  answers?: readonly string[] | Answerer;
  /** Sandbox defaults for every line (time, memory, fault code). */
  sandbox?: Partial<SandboxDefaults>;
  /** Refuse files others could change, as the host does as root. Default false: a test's files live in temp folders. */
  strictPermissions?: boolean;
  /** The engine to load modules with; pass one to many runs to load each module once. Default: one for this run. */
  engine?: Engine;
}

export interface ModuleTestResult {
  /** What open-session returned (when it ran). */
  open?: { code: number; name: string };
  /** What close-session returned (when it ran). */
  close?: { code: number; name: string };
  /** True when every hook run returned PAM_SUCCESS. */
  ok: boolean;
  /** Messages shown (pam_info / pam_error), in order. */
  messages: ConvMessage[];
  /** Prompts asked, with the answer each got. */
  prompts: PromptRecord[];
  /** The PAM environment after the run. */
  env: Record<string, string>;
  /** Each stack line's module data after the run (pam_set_data), by key; line order as in the stack. */
  data: Record<string, Uint8Array>[];
  /** Syslog lines the modules wrote, and the reasons of lines that faulted. */
  log: LogRecord[];
  /** What each line returned and what the stack did with it. */
  trace: TraceEntry[];
  /** Stack file problems (file:line), as `pamwasm check` reports them. */
  diagnostics: Diagnostic[];
}

/** Brackets an argument that holds spaces, as pam.d writes `[an argument]`. */
function stackArg(a: string): string {
  if (/[\n\r]/.test(a)) throw new UsageError(`a module argument cannot hold a line break (${JSON.stringify(a)}).`);
  return /\s|^\[/.test(a) ? `[${a.replace(/\]/g, '\\]')}]` : a;
}

/**
 * The stack line's module field for `module`. A stack line cannot name a
 * path with spaces (a bracketed module field is the module and its sandbox
 * settings, split at spaces), so a module in such a folder is named
 * relative to its folder, which becomes the run's module folder.
 */
function moduleField(module: string): { field: string; moduleDir?: string } {
  const file = resolve(module);
  if (!/\s/.test(file)) return { field: file };
  if (/\s/.test(basename(file))) throw new UsageError(`a stack line cannot name the module file ${JSON.stringify(basename(file))}: rename it without spaces.`);
  return { field: basename(file), moduleDir: dirname(file) };
}

/** The stack file to run, the folder to remove afterwards, and the module folder the stack needs. */
function stackFileOf(o: ModuleTestOptions): { file: string; temp?: string; moduleDir?: string } {
  const given = [o.module, o.stack, o.stackText].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('runModule needs exactly one of module, stack or stackText.');
  if (o.stack !== undefined) return { file: resolve(o.stack) };
  const temp = mkdtempSync(join(tmpdir(), 'pamwasm-test-'));
  const module = o.module === undefined ? undefined : moduleField(o.module);
  const text = o.stackText ?? `session ${o.control ?? 'required'} ${module!.field} ${(o.args ?? []).map(stackArg).join(' ')}\n`;
  writeFileSync(join(temp, 'test.stack'), text);
  return { file: join(temp, 'test.stack'), temp, moduleDir: module?.moduleDir };
}

/** Runs a module or a stack as a libpam application would, and returns everything it did. */
export async function runModule(options: ModuleTestOptions): Promise<ModuleTestResult> {
  const { file, temp, moduleDir } = stackFileOf(options);
  try {
    const strictPermissions = options.strictPermissions ?? false;
    const engine = options.engine ?? createEngine();
    const stack = parseStackFile(file, { strictPermissions, engine });
    const handle = newHandleState({ service: 'test', user: 'tester', ...options.items }, options.env);
    const log: LogRecord[] = [];
    const { conversation, prompts } = scriptedConversation(options.answers ?? []);
    const session = await StackSession.create(stack, handle, {
      conversation, log: (r) => log.push(r), strictPermissions, sandbox: options.sandbox,
      moduleDir: moduleDir ?? options.moduleDir, engine,
    });
    const result: ModuleTestResult = {
      ok: true, messages: session.messages, prompts, env: {}, data: [], log, trace: [],
      diagnostics: [...stack.diagnostics, ...session.diagnostics],
    };
    try {
      const flags = { silent: Boolean(options.silent) };
      await runHooks(session, flags, options.phase ?? 'both', result);
      result.env = Object.fromEntries(handle.env);
      result.data = session.snapshot().data.map((line) =>
        Object.fromEntries(Object.entries(line).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])));
    } finally {
      session.end();
    }
    return result;
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}
