// Generated from wit/ by host/build/wit-bindings.ts: do not edit; after changing wit/, run `npm run wit-bindings`.

/** The WIT package, without its version. */
export const WIT_PACKAGE = 'pamwasm:session';
/** The WIT package's version, as every import name carries it (`pamwasm:session/log@0.1.0`). */
export const WIT_VERSION = '0.1.0';

/** The `prompt-style` enum's cases, in order (a case's index is its number on the wire): wit/conversation.wit. */
export const PROMPT_STYLES = ['echo-on', 'echo-off'] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];

/** The `status` enum's cases, in order (a case's index is its number on the wire): wit/types.wit. */
export const WIT_STATUSES = [
  'success', 'open-err', 'symbol-err', 'service-err', 'system-err', 'buf-err', 'perm-denied',
  'auth-err', 'cred-insufficient', 'authinfo-unavail', 'user-unknown', 'maxtries',
  'new-authtok-reqd', 'acct-expired', 'session-err', 'cred-unavail', 'cred-expired', 'cred-err',
  'no-module-data', 'conv-err', 'authtok-err', 'authtok-recover-err', 'authtok-lock-busy',
  'authtok-disable-aging', 'try-again', 'ignore', 'abort', 'authtok-expired', 'module-unknown',
  'bad-item', 'conv-again', 'incomplete',
] as const;
export type WitStatus = (typeof WIT_STATUSES)[number];

/** The `session-flags` flags, in order (flag i is bit i): wit/types.wit. */
export const SESSION_FLAGS = ['silent'] as const;
export type SessionFlag = (typeof SESSION_FLAGS)[number];

/** The `item` enum's cases, in order (a case's index is its number on the wire): wit/types.wit. */
export const WIT_ITEMS = ['service', 'user', 'tty', 'rhost', 'ruser', 'user-prompt', 'xdisplay'] as const;
export type WitItem = (typeof WIT_ITEMS)[number];

/** The `priority` enum's cases, in order (a case's index is its number on the wire): wit/types.wit. */
export const WIT_PRIORITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type WitPriority = (typeof WIT_PRIORITIES)[number];
