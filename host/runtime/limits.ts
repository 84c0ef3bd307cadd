/**
 * What one module line may push through the handle's imports. Each limit is
 * enforced by the host; going past it gives the module an error status (or,
 * for syslog, a dropped line), never a host failure.
 *
 * Defaults (all settable per host and per stack line):
 *  - messageBytes 4096: longest conversation text (info, error, prompt);
 *  - messagesPerCall 64: conversation messages in one hook call;
 *  - syslogBytes 1024: longest syslog line (longer ones are truncated);
 *  - syslogPerCall 64: syslog lines in one hook call (more are dropped);
 *  - envBytes 65536 / envEntries 256: size of the whole PAM environment;
 *  - dataBytes 65536: module data of one line, names and values together.
 */
import { ARG_BYTES } from '../loader/lift.js';

export interface ImportLimits {
  messageBytes: number;
  messagesPerCall: number;
  syslogBytes: number;
  syslogPerCall: number;
  envBytes: number;
  envEntries: number;
  dataBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: Readonly<ImportLimits> = Object.freeze({
  messageBytes: 4096,
  messagesPerCall: 64,
  syslogBytes: 1024,
  syslogPerCall: 64,
  envBytes: 65536,
  envEntries: 256,
  dataBytes: 65536,
});

export const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * `fn` marked with the most bytes of one string or list argument it uses:
 * the loader reads no more than that plus one out of guest memory
 * (host/loader/lift.ts), so every check below still sees a longer argument
 * as over its limit, without the host decoding megabytes first.
 */
export function capped<F extends (...args: never[]) => unknown>(bytes: number, fn: F): F {
  return Object.assign(fn, { [ARG_BYTES]: bytes });
}
