/**
 * What the host functions of one module line work on: the session's handle,
 * the line's private data, the conversation and log sinks, and the limits.
 */
import type { ModuleData } from './data.js';
import type { HandleState } from './handle.js';
import type { ImportLimits } from './limits.js';
import type { ConvMessage, StackConversation, LogRecord } from './types.js';

export interface LineContext {
  /** Module label for logs, e.g. `pam_echo.wasm`. */
  readonly module: string;
  readonly handle: HandleState;
  /** This line's module data (pam_set_data), kept from open to close. */
  readonly data: ModuleData;
  readonly conversation: StackConversation;
  /** Messages shown so far in the session, in order. */
  readonly messages: ConvMessage[];
  readonly log: (record: LogRecord) => void;
  readonly limits: ImportLimits;
  /**
   * The line's time limit, when it has one (the session sets it): paused
   * while the application answers the conversation, so that the time a
   * person takes to answer a prompt does not count against the module.
   */
  clock?: CallClock;
  /**
   * Per-call counters, reset by `resetCallCounters` before each hook call;
   * `fault`: what the JS SDK's hook guard said before the module trapped.
   */
  readonly calls: { messages: number; syslog: number; syslogDropped: number; fault?: string };
}

/** A time limit that can stop counting for a while (host/sandbox/store/clock.ts `InstanceMeter`). */
export interface CallClock {
  pause(): void;
  resume(): void;
}

/** `answer()`, with the line's clock stopped while it runs. */
export function unclocked<T>(ctx: LineContext, answer: () => T): T {
  const clock = ctx.clock;
  if (!clock) return answer();
  clock.pause();
  try {
    return answer();
  } finally {
    clock.resume();
  }
}

export function resetCallCounters(ctx: LineContext): void {
  ctx.calls.messages = 0;
  ctx.calls.syslog = 0;
  ctx.calls.syslogDropped = 0;
  ctx.calls.fault = undefined;
}

/** After a hook call: one log line saying how many syslog lines it dropped past its limit. */
export function noteDroppedSyslog(ctx: LineContext): void {
  if (ctx.calls.syslogDropped > 0) {
    ctx.log({ priority: 'warning', module: ctx.module, message: `${ctx.calls.syslogDropped} more syslog lines dropped: the limit is ${ctx.limits.syslogPerCall} per call` });
    ctx.calls.syslogDropped = 0;
  }
}
