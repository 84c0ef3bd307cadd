/**
 * One playground run: stack text from the editor, through a real
 * StackSession (the sandbox and the one dispatcher), with what-ifs. The
 * result has `pamwasm run --json`'s shape, and each step also carries what
 * its line did (messages, env changes, module data sizes, syslog lines),
 * observed as the line finished.
 */
import { UsageError } from '../errors/index.js';
import { newHandleState, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { scriptedConversation } from '../stack/answers.js';
import type { Stack } from '../stack/parse.js';
import type { RunResult } from '../stack/run.js';
import { StackSession, type TraceEntry, type WhatIf } from '../stack/session.js';
import { isNativeModule } from './model.js';
import type { EngineState } from '../engine/index.js';

export interface PlaygroundRunInput {
  stack: Stack;
  items: Partial<Record<WitItem, string>>;
  silent?: boolean;
  phase?: 'open' | 'close' | 'both';
  whatIf?: ReadonlyMap<number, WhatIf>;
  moduleDir?: string;
  strictPermissions?: boolean;
  /** The engine to load the stack's modules with (the playground server's). Default: one for this run. */
  engine?: EngineState;
}

/** What one line did while it ran. */
export interface StepEffects {
  messages: ConvMessage[];
  /** Variables set (value) or removed (null) by the line. */
  env: { name: string; value: string | null }[];
  /** The line's module data after the step: key and size in bytes. */
  data: { key: string; bytes: number }[];
  syslog: LogRecord[];
}

export interface PlaygroundStep extends TraceEntry {
  /** The handler's index: the flow node the step lights up. */
  index: number;
  effects: StepEffects;
}

/** `pamwasm run --json`'s object (RunResult without `ok`, with prompts), plus steps. */
export interface PlaygroundRun extends Omit<RunResult, 'ok'> {
  prompts: { style: string; text: string; answered: boolean }[];
  steps: PlaygroundStep[];
}

/** Refuses a native line that would have to run: pamwasm runs components only. */
function checkNativeLines(stack: Stack, whatIf: ReadonlyMap<number, WhatIf> | undefined, phase: 'open' | 'close' | 'both'): void {
  for (const [i, h] of stack.handlers.entries()) {
    if (h.kind !== 'module' || !isNativeModule(h.module)) continue;
    const w = whatIf?.get(i);
    const missing = (['open', 'close'] as const).filter((k) => (phase === 'both' || phase === k) && w?.[k] === undefined);
    if (missing.length) {
      throw new UsageError(`${h.file}:${h.line}: ${h.module} is a native module, which pamwasm does not run: choose a what-if result for ${missing.join(' and ')}.`);
    }
  }
}

export async function playgroundRun(input: PlaygroundRunInput): Promise<PlaygroundRun> {
  const phase = input.phase ?? 'both';
  checkNativeLines(input.stack, input.whatIf, phase);
  const handle = newHandleState(input.items);
  const syslog: LogRecord[] = [];
  const { conversation, prompts } = scriptedConversation([]);
  const steps: PlaygroundStep[] = [];
  let session: StackSession | undefined;
  let seen = { messages: 0, syslog: 0, env: new Map<string, string>() };
  const onTrace = (entry: TraceEntry, index: number) => {
    const env: StepEffects['env'] = [];
    for (const [name, value] of handle.env) if (seen.env.get(name) !== value) env.push({ name, value });
    for (const name of seen.env.keys()) if (!handle.env.has(name)) env.push({ name, value: null });
    const data = Object.entries(session!.snapshot().data[index] ?? {}).map(([key, b64]) => ({ key, bytes: Buffer.from(b64, 'base64').length }));
    steps.push({
      ...entry, index,
      effects: { messages: session!.messages.slice(seen.messages), env, data, syslog: syslog.slice(seen.syslog) },
    });
    seen = { messages: session!.messages.length, syslog: syslog.length, env: new Map(handle.env) };
  };
  session = await StackSession.create(input.stack, handle, {
    conversation, log: (r) => syslog.push(r), whatIf: input.whatIf, onTrace,
    moduleDir: input.moduleDir, strictPermissions: input.strictPermissions, engine: input.engine,
  });
  const out: PlaygroundRun = {
    messages: session.messages, env: {}, trace: [], syslog,
    diagnostics: [...input.stack.diagnostics, ...session.diagnostics], prompts: [], steps,
  };
  try {
    const flags = { silent: Boolean(input.silent) };
    for (const hook of ['open', 'close'] as const) {
      if (phase !== 'both' && phase !== hook) continue;
      const r = await (hook === 'open' ? session.open(flags) : session.close(flags));
      out[hook] = { code: r.code, name: r.name };
      out.trace.push(...r.trace);
    }
  } finally {
    session.end();
  }
  out.env = Object.fromEntries(handle.env);
  out.prompts = prompts.map(({ style, text, answer }) => ({ style, text, answered: answer !== undefined }));
  return out;
}
