/**
 * The one table of PAM return codes: Linux-PAM's numbers and names
 * (`<security/_pam_types.h>`), the WIT `status` case for each, and the token
 * that pam_debug(8) and libpam's `pam_tokens.h` use for it in config files.
 *
 * No other file spells a PAM code as a bare number.
 *
 * @example
 *   codeByName('PAM_SESSION_ERR').number   // 14
 *   codeByStatus('session-err').name       // 'PAM_SESSION_ERR'
 */

export interface PamCode {
  /** Linux-PAM's number for the code. */
  readonly number: number;
  /** The C macro name, e.g. `PAM_SESSION_ERR`. */
  readonly name: string;
  /** The WIT `status` enum case, e.g. `session-err`. */
  readonly status: WitStatus;
  /** The token in pam.d bracket controls and pam_debug args, e.g. `session_err`. */
  readonly token: string;
}

// The WIT `status` cases, in Linux-PAM number order (index = number),
// generated from wit/types.wit (host/build/wit-bindings.ts).
import { WIT_STATUSES, type WitStatus } from '../wit/bindings.js';

export { WIT_STATUSES, type WitStatus };

// Macro names differ from the tokens in one place: PAM_AUTHTOK_RECOVERY_ERR
// is spelled `authtok_recover_err` in pam_tokens.h.
const MACRO_OVERRIDES: Record<string, string> = {
  'authtok-recover-err': 'PAM_AUTHTOK_RECOVERY_ERR',
};

/** The C macro of a WIT `status` case: `session-err` is PAM_SESSION_ERR. */
export const pamMacroName = (status: string): string => MACRO_OVERRIDES[status] ?? `PAM_${status.replace(/-/g, '_').toUpperCase()}`;

export const PAM_CODES: readonly PamCode[] = WIT_STATUSES.map((status, number) => ({
  number,
  status,
  token: status.replace(/-/g, '_'),
  name: pamMacroName(status),
}));

/** Number of return codes (libpam's `_PAM_RETURN_VALUES`). */
export const PAM_RETURN_VALUES = PAM_CODES.length;

const byNumber = new Map(PAM_CODES.map((c) => [c.number, c]));
const byName = new Map(PAM_CODES.map((c) => [c.name, c]));
const byStatus = new Map(PAM_CODES.map((c) => [c.status as string, c]));
const byToken = new Map(PAM_CODES.map((c) => [c.token, c]));

function get<K>(map: Map<K, PamCode>, key: K, what: string): PamCode {
  const code = map.get(key);
  if (!code) throw new RangeError(`unknown PAM ${what}: ${String(key)}`);
  return code;
}

export const codeByNumber = (n: number): PamCode => get(byNumber, n, "code number");
export const codeByName = (name: string): PamCode => get(byName, name, 'code name');
export const codeByStatus = (status: string): PamCode => get(byStatus, status, 'status');
/** Looks up a pam.d / pam_debug token such as `session_err`; `undefined` if unknown. */
export const codeByToken = (token: string): PamCode | undefined => byToken.get(token);
/** A code as results carry it: its number and its `PAM_*` name. */
export const namedCode = (n: number): { code: number; name: string } => ({ code: n, name: codeByNumber(n).name });
/** True when `n` is a code libpam knows (0 <= n < _PAM_RETURN_VALUES). */
export const isPamCode = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < PAM_RETURN_VALUES;

/** Named codes used by the host itself. */
export const PAM = Object.fromEntries(PAM_CODES.map((c) => [c.name.slice(4), c])) as Record<string, PamCode> & {
  SUCCESS: PamCode; SYSTEM_ERR: PamCode; PERM_DENIED: PamCode; SESSION_ERR: PamCode;
  IGNORE: PamCode; CONV_ERR: PamCode; BUF_ERR: PamCode; BAD_ITEM: PamCode; NO_MODULE_DATA: PamCode;
  ABORT: PamCode; INCOMPLETE: PamCode; MODULE_UNKNOWN: PamCode; NEW_AUTHTOK_REQD: PamCode;
};

/** PAM_SILENT, the only flag a session hook receives. */
export const PAM_SILENT = 0x8000;

export { MESSAGE_STYLES, isPrompt, type ConvMessage, type MessageStyle } from './conversation.js';
