/** WIT enum spellings as jco passes them to and from the host, generated from wit/ (host/build/wit-bindings.ts). */
import type { PromptStyle, WitPriority } from '../wit/bindings.js';

export { PROMPT_STYLES, WIT_ITEMS, WIT_PRIORITIES, type PromptStyle, type WitItem, type WitPriority } from '../wit/bindings.js';

/** One conversation message as the application sees it (pam_conv(3) styles). */
export interface ConvMessage {
  style: 'info' | 'error';
  text: string;
}

/**
 * The application's side of the conversation, called synchronously while a
 * module runs. `info` / `error` return false when the application could not
 * show the message (the module then gets `conv-err`); `prompt` returns the
 * answer, or undefined for no answer.
 */
export interface Conversation {
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
