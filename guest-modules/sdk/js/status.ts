/**
 * The PAM return codes as the WIT `status` strings a hook returns, named as
 * Linux-PAM's macros without `PAM_` (the host's table in `host/codes` uses
 * the same names; a test keeps the two equal).
 *
 * @example
 *   return ok ? STATUS.SUCCESS : STATUS.SESSION_ERR;
 */
import type { Status } from 'pamwasm:session/types';

export const STATUS = {
  SUCCESS: 'success',
  OPEN_ERR: 'open-err',
  SYMBOL_ERR: 'symbol-err',
  SERVICE_ERR: 'service-err',
  SYSTEM_ERR: 'system-err',
  BUF_ERR: 'buf-err',
  PERM_DENIED: 'perm-denied',
  AUTH_ERR: 'auth-err',
  CRED_INSUFFICIENT: 'cred-insufficient',
  AUTHINFO_UNAVAIL: 'authinfo-unavail',
  USER_UNKNOWN: 'user-unknown',
  MAXTRIES: 'maxtries',
  NEW_AUTHTOK_REQD: 'new-authtok-reqd',
  ACCT_EXPIRED: 'acct-expired',
  SESSION_ERR: 'session-err',
  CRED_UNAVAIL: 'cred-unavail',
  CRED_EXPIRED: 'cred-expired',
  CRED_ERR: 'cred-err',
  NO_MODULE_DATA: 'no-module-data',
  CONV_ERR: 'conv-err',
  AUTHTOK_ERR: 'authtok-err',
  AUTHTOK_RECOVERY_ERR: 'authtok-recover-err',
  AUTHTOK_LOCK_BUSY: 'authtok-lock-busy',
  AUTHTOK_DISABLE_AGING: 'authtok-disable-aging',
  TRY_AGAIN: 'try-again',
  IGNORE: 'ignore',
  ABORT: 'abort',
  AUTHTOK_EXPIRED: 'authtok-expired',
  MODULE_UNKNOWN: 'module-unknown',
  BAD_ITEM: 'bad-item',
  CONV_AGAIN: 'conv-again',
  INCOMPLETE: 'incomplete',
} as const satisfies Record<string, Status>;

const STATUSES: ReadonlySet<unknown> = new Set(Object.values(STATUS));

/** True when `value` is one of the WIT `status` strings. */
export function isStatus(value: unknown): value is Status {
  return STATUSES.has(value);
}
