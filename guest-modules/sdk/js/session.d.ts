// Generated from wit/ by writeGuestTypes() in host/build/js-types.ts: edit the
// WIT and rebuild the guests (npm run build:guests), never this file.
//
// Inside componentize-js the host's interfaces are ES modules named by their
// versioned WIT name; the JS builder also accepts the unversioned name, so both
// are declared.

declare module 'pamwasm:session/conversation@0.1.0' {
  /**
   * Shows an informational message (PAM_TEXT_INFO, pam_info). Returns
   * `success`, or `conv-err` when the application's conversation failed.
   */
  export function info(text: string): Status;
  /**
   * Shows an error message (PAM_ERROR_MSG, pam_error). Returns `success`,
   * or `conv-err` when the application's conversation failed.
   */
  export function error(text: string): Status;
  /**
   * Asks the user a question (pam_prompt) and returns the answer, or
   * `conv-err` when the application's conversation gave none. Rarely
   * needed by session modules.
   */
  export function prompt(style: PromptStyle, text: string): string;
  export type Status = import('pamwasm:session/types@0.1.0').Status;
  /**
   * How a prompt's answer is read.
   * # Variants
   * 
   * ## `"echo-on"`
   * 
   * PAM_PROMPT_ECHO_ON (2): the answer may be shown as it is typed.
   * ## `"echo-off"`
   * 
   * PAM_PROMPT_ECHO_OFF (1): the answer is hidden as it is typed.
   */
  export type PromptStyle = 'echo-on' | 'echo-off';
}

declare module 'pamwasm:session/data@0.1.0' {
  /**
   * Stores `value` under `name`, replacing what was there. Returns
   * `success`, or `buf-err` when the host's size limits are exceeded.
   */
  export function setData(name: string, value: Uint8Array): Status;
  /**
   * The bytes stored under `name` by this module line in this session, or
   * `none` (a native module would get PAM_NO_MODULE_DATA).
   */
  export function getData(name: string): Uint8Array | undefined;
  /**
   * Removes what is stored under `name`; `no-module-data` when nothing was.
   */
  export function deleteData(name: string): Status;
  export type Status = import('pamwasm:session/types@0.1.0').Status;
}

declare module 'pamwasm:session/env@0.1.0' {
  /**
   * The value of one PAM environment variable (pam_getenv), or `none`
   * when it is not set.
   */
  export function getEnv(name: string): string | undefined;
  /**
   * Changes the PAM environment with pam_putenv semantics:
   * `NAME=value` sets NAME, `NAME=` sets it to the empty string, and a
   * bare `NAME` deletes it. Returns `success`, `perm-denied` for an empty
   * or malformed name, `bad-item` when deleting a variable that is not set,
   * and `buf-err` when the host's size limits are exceeded.
   */
  export function putEnv(nameValue: string): Status;
  /**
   * The whole PAM environment as `NAME=value` strings, in the order the
   * variables were first set (pam_getenvlist).
   */
  export function listEnv(): Array<string>;
  export type Status = import('pamwasm:session/types@0.1.0').Status;
}

declare module 'pamwasm:session/items@0.1.0' {
  /**
   * Reads one item of the handle. `none` when the application never set
   * it (pam_get_item returns a NULL item). Never fails for the items listed
   * in `item`; PAM_AUTHTOK is not readable by session modules at all.
   */
  export function getItem(which: Item): string | undefined;
  export type Item = import('pamwasm:session/types@0.1.0').Item;
  export type Status = import('pamwasm:session/types@0.1.0').Status;
}

declare module 'pamwasm:session/log@0.1.0' {
  /**
   * Logs one message at `level`. Messages past the host's limits (line
   * size, lines per call) are truncated or dropped, never fatal.
   */
  export function syslog(level: Priority, message: string): void;
  export type Priority = import('pamwasm:session/types@0.1.0').Priority;
}

declare module 'pamwasm:session/types@0.1.0' {
  /**
   * A Linux-PAM return code. The case index is the code's number in
   * Linux-PAM's `<security/_pam_types.h>` (`success` is 0, `incomplete`
   * is 31), so every code a native module can return can be returned here.
   * The host keeps one table of numbers and names (`host/codes`).
   * # Variants
   * 
   * ## `"success"`
   * 
   * PAM_SUCCESS (0): the hook succeeded.
   * ## `"open-err"`
   * 
   * PAM_OPEN_ERR (1): dlopen() failure when dynamically loading a service module.
   * ## `"symbol-err"`
   * 
   * PAM_SYMBOL_ERR (2): a symbol was not found.
   * ## `"service-err"`
   * 
   * PAM_SERVICE_ERR (3): error in a service module.
   * ## `"system-err"`
   * 
   * PAM_SYSTEM_ERR (4): system error.
   * ## `"buf-err"`
   * 
   * PAM_BUF_ERR (5): memory buffer error.
   * ## `"perm-denied"`
   * 
   * PAM_PERM_DENIED (6): permission denied.
   * ## `"auth-err"`
   * 
   * PAM_AUTH_ERR (7): authentication failure.
   * ## `"cred-insufficient"`
   * 
   * PAM_CRED_INSUFFICIENT (8): insufficient credentials to access authentication data.
   * ## `"authinfo-unavail"`
   * 
   * PAM_AUTHINFO_UNAVAIL (9): authentication service cannot retrieve authentication info.
   * ## `"user-unknown"`
   * 
   * PAM_USER_UNKNOWN (10): user not known to the underlying authentication module.
   * ## `"maxtries"`
   * 
   * PAM_MAXTRIES (11): the maximum number of retries has been reached.
   * ## `"new-authtok-reqd"`
   * 
   * PAM_NEW_AUTHTOK_REQD (12): a new authentication token is required.
   * ## `"acct-expired"`
   * 
   * PAM_ACCT_EXPIRED (13): the user account has expired.
   * ## `"session-err"`
   * 
   * PAM_SESSION_ERR (14): cannot make or remove an entry for the session.
   * ## `"cred-unavail"`
   * 
   * PAM_CRED_UNAVAIL (15): authentication service cannot retrieve user credentials.
   * ## `"cred-expired"`
   * 
   * PAM_CRED_EXPIRED (16): user credentials expired.
   * ## `"cred-err"`
   * 
   * PAM_CRED_ERR (17): failure setting user credentials.
   * ## `"no-module-data"`
   * 
   * PAM_NO_MODULE_DATA (18): no module-specific data is present.
   * ## `"conv-err"`
   * 
   * PAM_CONV_ERR (19): conversation error.
   * ## `"authtok-err"`
   * 
   * PAM_AUTHTOK_ERR (20): authentication token manipulation error.
   * ## `"authtok-recover-err"`
   * 
   * PAM_AUTHTOK_RECOVERY_ERR (21): authentication information cannot be recovered.
   * ## `"authtok-lock-busy"`
   * 
   * PAM_AUTHTOK_LOCK_BUSY (22): authentication token lock busy.
   * ## `"authtok-disable-aging"`
   * 
   * PAM_AUTHTOK_DISABLE_AGING (23): authentication token aging disabled.
   * ## `"try-again"`
   * 
   * PAM_TRY_AGAIN (24): preliminary check by password service failed.
   * ## `"ignore"`
   * 
   * PAM_IGNORE (25): ignore this module's result; the stack goes on as if it did not run.
   * ## `"abort"`
   * 
   * PAM_ABORT (26): critical error; the stack is aborted.
   * ## `"authtok-expired"`
   * 
   * PAM_AUTHTOK_EXPIRED (27): the authentication token has expired.
   * ## `"module-unknown"`
   * 
   * PAM_MODULE_UNKNOWN (28): module is not known.
   * ## `"bad-item"`
   * 
   * PAM_BAD_ITEM (29): bad item passed to an item call.
   * ## `"conv-again"`
   * 
   * PAM_CONV_AGAIN (30): the conversation function is event driven and data is not available yet.
   * ## `"incomplete"`
   * 
   * PAM_INCOMPLETE (31): call the function again to complete the transaction.
   */
  export type Status = 'success' | 'open-err' | 'symbol-err' | 'service-err' | 'system-err' | 'buf-err' | 'perm-denied' | 'auth-err' | 'cred-insufficient' | 'authinfo-unavail' | 'user-unknown' | 'maxtries' | 'new-authtok-reqd' | 'acct-expired' | 'session-err' | 'cred-unavail' | 'cred-expired' | 'cred-err' | 'no-module-data' | 'conv-err' | 'authtok-err' | 'authtok-recover-err' | 'authtok-lock-busy' | 'authtok-disable-aging' | 'try-again' | 'ignore' | 'abort' | 'authtok-expired' | 'module-unknown' | 'bad-item' | 'conv-again' | 'incomplete';
  /**
   * The flags a session hook receives, as the `flags` argument of
   * `pam_sm_open_session` / `pam_sm_close_session`.
   */
  export interface SessionFlags {
    /**
     * PAM_SILENT (0x8000): the application asked the module not to emit
     * informational messages (pam_echo, for one, then stays quiet).
     */
    silent?: boolean,
  }
  /**
   * The string items of the PAM handle a session module may read
   * (pam_get_item(3)). PAM_AUTHTOK and PAM_OLDAUTHTOK are deliberately
   * absent: session modules never see passwords.
   * # Variants
   * 
   * ## `"service"`
   * 
   * PAM_SERVICE (1): the service name, e.g. `sshd`.
   * ## `"user"`
   * 
   * PAM_USER (2): the name of the user the session is for.
   * ## `"tty"`
   * 
   * PAM_TTY (3): the terminal name, e.g. `/dev/pts/0` or `ssh`.
   * ## `"rhost"`
   * 
   * PAM_RHOST (4): the remote host name.
   * ## `"ruser"`
   * 
   * PAM_RUSER (8): the remote user name.
   * ## `"user-prompt"`
   * 
   * PAM_USER_PROMPT (9): the prompt used by pam_get_user.
   * ## `"xdisplay"`
   * 
   * PAM_XDISPLAY (11): the X display name.
   */
  export type Item = 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'user-prompt' | 'xdisplay';
  /**
   * A syslog(3) priority for `log.syslog`, ordered as LOG_EMERG (0) to LOG_DEBUG (7).
   * # Variants
   * 
   * ## `"emerg"`
   * 
   * LOG_EMERG (0): the system is unusable.
   * ## `"alert"`
   * 
   * LOG_ALERT (1): action must be taken immediately.
   * ## `"crit"`
   * 
   * LOG_CRIT (2): critical conditions.
   * ## `"err"`
   * 
   * LOG_ERR (3): error conditions.
   * ## `"warning"`
   * 
   * LOG_WARNING (4): warning conditions.
   * ## `"notice"`
   * 
   * LOG_NOTICE (5): normal but significant condition.
   * ## `"info"`
   * 
   * LOG_INFO (6): informational message.
   * ## `"debug"`
   * 
   * LOG_DEBUG (7): debug-level message.
   */
  export type Priority = 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';
}

declare module 'pamwasm:session/session-module@0.1.0' {
  export type Status = import('pamwasm:session/types@0.1.0').Status;
  export type SessionFlags = import('pamwasm:session/types@0.1.0').SessionFlags;
  export type * as PamwasmSessionConversation010 from 'pamwasm:session/conversation@0.1.0'; // import pamwasm:session/conversation@0.1.0
  export type * as PamwasmSessionData010 from 'pamwasm:session/data@0.1.0'; // import pamwasm:session/data@0.1.0
  export type * as PamwasmSessionEnv010 from 'pamwasm:session/env@0.1.0'; // import pamwasm:session/env@0.1.0
  export type * as PamwasmSessionItems010 from 'pamwasm:session/items@0.1.0'; // import pamwasm:session/items@0.1.0
  export type * as PamwasmSessionLog010 from 'pamwasm:session/log@0.1.0'; // import pamwasm:session/log@0.1.0
  export type * as PamwasmSessionTypes010 from 'pamwasm:session/types@0.1.0'; // import pamwasm:session/types@0.1.0
  /**
  * pam_sm_open_session: sets up the session for the handle's user.
  * `argv` is the module's arguments from its stack line, as `argv` of the
  * native hook. The returned status feeds the stack's control flags.
  */
  export function openSession(flags: SessionFlags, argv: Array<string>): Status;
  /**
  * pam_sm_close_session: tears the session down. Called on the same
  * instance that ran open-session, with the same `argv`, so state kept in
  * the module's memory is still there.
  */
  export function closeSession(flags: SessionFlags, argv: Array<string>): Status;
}

declare module 'pamwasm:session/conversation' {
  export * from 'pamwasm:session/conversation@0.1.0';
}

declare module 'pamwasm:session/data' {
  export * from 'pamwasm:session/data@0.1.0';
}

declare module 'pamwasm:session/env' {
  export * from 'pamwasm:session/env@0.1.0';
}

declare module 'pamwasm:session/items' {
  export * from 'pamwasm:session/items@0.1.0';
}

declare module 'pamwasm:session/log' {
  export * from 'pamwasm:session/log@0.1.0';
}

declare module 'pamwasm:session/types' {
  export * from 'pamwasm:session/types@0.1.0';
}
