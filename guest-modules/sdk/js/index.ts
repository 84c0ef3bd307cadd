/// <reference path="./session.d.ts" />
/**
 * The guest SDK for PAM session modules written in JS or TS: the host's
 * interfaces re-exported with their types, status constants, and a few
 * helpers a native module would get from libpam (pam_echo-style `%`
 * substitution, pam_prompt without exceptions).
 *
 * A module is a folder whose `index.ts` exports `openSession` and
 * `closeSession`; see README.md.
 *
 * @example
 *   import { putEnv, substitute, STATUS, type SessionHook } from '../sdk/js/index.js';
 *   export const openSession: SessionHook = () => putEnv(substitute('GREETING=hello %u'));
 *   export const closeSession: SessionHook = () => STATUS.SUCCESS;
 */
import { getItem } from 'pamwasm:session/items';
import { syslog } from 'pamwasm:session/log';
import { prompt } from 'pamwasm:session/conversation';
import type { PromptStyle } from 'pamwasm:session/conversation';
import type { SessionFlags, Status } from 'pamwasm:session/types';
import { expand, type SubstituteOptions } from './substitute.js';
import { isStatus } from './status.js';

export type { Item, Priority, SessionFlags, Status } from 'pamwasm:session/types';
export type { PromptStyle } from 'pamwasm:session/conversation';
export { getItem } from 'pamwasm:session/items';
export { getEnv, putEnv, listEnv } from 'pamwasm:session/env';
export { setData, getData, deleteData } from 'pamwasm:session/data';
export { syslog } from 'pamwasm:session/log';
export { info, error, prompt } from 'pamwasm:session/conversation';
export { STATUS, isStatus } from './status.js';
export { ITEM_ESCAPES, type SubstituteOptions } from './substitute.js';

/** The type of both exports, `pam_sm_open_session` / `pam_sm_close_session`. */
export type SessionHook = (flags: SessionFlags, argv: string[]) => Status;

/** What a module's entry file exports. */
export interface SessionModule {
  openSession: SessionHook;
  closeSession: SessionHook;
}

/**
 * pam_echo(8)'s substitution with the handle's items: `%u` user, `%s`
 * service, `%t` tty, `%H` rhost, `%U` ruser, `%h` host name (`opts.hostname`,
 * since a guest cannot ask the system); an unset item gives `(null)`
 * (`opts.missing`), `%%` gives `%`, and any other `%x` gives `x`.
 *
 * @example
 *   substitute('hello %u from %H')   // 'hello alice from (null)' when PAM_RHOST is unset
 */
export function substitute(template: string, opts?: SubstituteOptions): string {
  return expand(template, getItem, opts);
}

/**
 * pam_prompt(3) that returns the failure instead of throwing it: the WIT
 * `result<string, status>` reaches JS as an exception whose `payload` is
 * the status.
 *
 * @example
 *   const r = tryPrompt('echo-on', 'Project? ');
 *   if ('status' in r) return r.status;
 */
export function tryPrompt(style: PromptStyle, text: string): { answer: string } | { status: Status } {
  try {
    return { answer: prompt(style, text) };
  } catch (e) {
    const payload = (e as { payload?: unknown } | null)?.payload;
    if (isStatus(payload)) return { status: payload };
    throw e;
  }
}

/**
 * Wraps a hook so that an exception, or a return value that is not a
 * status, is logged through syslog and turns into `onFailure` (default
 * `session-err`). Without it the exception traps the component: the host
 * still fails closed, but the message is lost, since a guest has no stderr.
 *
 * @example
 *   export const openSession = guarded((flags, argv) => JSON.parse(argv[0]).ok ? 'success' : 'session-err');
 */
export function guarded(hook: SessionHook, onFailure: Status = 'session-err'): SessionHook {
  // Fail closed: a hook that crashed must never count as a success.
  if (onFailure === 'success' || !isStatus(onFailure)) {
    throw new TypeError(`guarded(): onFailure must be a failure status, not ${String(onFailure)}`);
  }
  return (flags, argv) => {
    let status: unknown;
    try {
      status = hook(flags, argv);
    } catch (e) {
      // SpiderMonkey's `stack` holds only the frames, not the message.
      const where = e instanceof Error && e.stack ? ` at ${e.stack.split('\n')[0]}` : '';
      syslog('crit', `uncaught exception: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}${where}`);
      return onFailure;
    }
    if (isStatus(status)) return status;
    syslog('crit', `hook returned ${JSON.stringify(status) ?? String(status)}, which is not a PAM status`);
    return onFailure;
  };
}
