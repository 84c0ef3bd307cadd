/**
 * The host side of the session-module world: builds the import object a
 * module instance is wired to, one per stack line, from the session's handle
 * state. One file per WIT interface (items, env, data, log, conversation).
 *
 * @example
 *   const ctx = newLineContext({ module: 'pam_echo.wasm', handle: newHandleState({ user: 'alice' }) });
 *   const instance = loaded.instantiate(hostImports(ctx));
 */
import { WIT_VERSION } from '../wit/index.js';
import type { ImportObject } from '../loader/index.js';
import { conversationImports } from './conversation.js';
import type { LineContext } from './context.js';
import { dataImports, ModuleData } from './data.js';
import { envImports } from './env.js';
import { itemsImports } from './items.js';
import { DEFAULT_IMPORT_LIMITS, type ImportLimits } from './limits.js';
import { logImports } from './log.js';
import type { HandleState } from './handle.js';
import type { ConvMessage, StackConversation, LogRecord } from './types.js';

export { newHandleState, type HandleState } from './handle.js';
export { putEnv } from './env.js';
export { DEFAULT_IMPORT_LIMITS, type ImportLimits } from './limits.js';
export { noteDroppedSyslog, resetCallCounters, type CallClock, type LineContext } from './context.js';
export { ModuleData } from './data.js';
export * from './types.js';

/** Each interface's host functions, by its unversioned name. */
const INTERFACES: Record<string, (ctx: LineContext) => Record<string, unknown>> = {
  'pamwasm:session/items': itemsImports,
  'pamwasm:session/env': envImports,
  'pamwasm:session/data': dataImports,
  'pamwasm:session/log': logImports,
  'pamwasm:session/conversation': conversationImports,
};

/**
 * The import object for one instance; keys with and without the package
 * version. With `only` (a loaded component's `imports`), just the
 * interfaces named there: a module that imports none of them (pam_permit)
 * costs no host functions at all.
 */
export function hostImports(ctx: LineContext, only?: readonly string[]): ImportObject {
  const out: ImportObject = {};
  for (const name of only ?? Object.keys(INTERFACES)) {
    const make = INTERFACES[name];
    if (!make) continue;
    const fns = make(ctx) as ImportObject[string];
    out[name] = fns;
    out[`${name}@${WIT_VERSION}`] = fns;
  }
  return out;
}

export interface LineContextInit {
  module: string;
  handle: HandleState;
  conversation?: StackConversation;
  messages?: ConvMessage[];
  log?: (record: LogRecord) => void;
  limits?: Partial<ImportLimits>;
}

export function newLineContext(init: LineContextInit): LineContext {
  return {
    module: init.module,
    handle: init.handle,
    data: new ModuleData(),
    conversation: init.conversation ?? {},
    messages: init.messages ?? [],
    log: init.log ?? (() => {}),
    // The frozen defaults themselves when nothing changes them: no copy per line.
    limits: init.limits ? { ...DEFAULT_IMPORT_LIMITS, ...init.limits } : DEFAULT_IMPORT_LIMITS,
    calls: { messages: 0, syslog: 0, syslogDropped: 0 },
  };
}
export { GUEST_FAULT_PREFIX } from './log.js';
export { formatLogRecord, LOG_OPTIONS, logSink, type LogOption } from './syslog.js';
