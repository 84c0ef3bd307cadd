/** WIT enum spellings as jco passes them to and from the host, generated from wit/ (host/build/wit-bindings.ts). */
import type { PromptStyle, WitPriority } from '../wit/bindings.js';

export { PROMPT_STYLES, WIT_ITEMS, WIT_PRIORITIES, type PromptStyle, type WitItem, type WitPriority } from '../wit/bindings.js';

export type { ConvMessage } from '../codes/index.js';

/**
 * The conversation a WASM stack's modules talk to (StackSession, runStack):
 * the application's side, called synchronously while a module runs (the
 * host API makes one from the application's pam_conv-style `Conversation`,
 * host/libpam). `info` / `error` return false when the application could not
 * show the message (the module then gets `conv-err`); `prompt` returns the
 * answer, or undefined for no answer.
 */
export interface StackConversation {
  info?(text: string): boolean | void;
  error?(text: string): boolean | void;
  prompt?(style: PromptStyle, text: string): string | undefined;
}

/** A syslog line a module emitted, with the module line that emitted it. */
export interface LogRecord {
  priority: WitPriority;
  module: string;
  message: string;
  /** The stack line, `file:line`, when the session knows it. */
  line?: string;
  /** PAM_SERVICE and PAM_USER of the handle when the line was written. */
  service?: string;
  user?: string;
  /** The session's id in the registry, when it has one. */
  session?: string;
}
