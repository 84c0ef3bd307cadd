/**
 * Host side of `pamwasm:session/log` (pam_syslog(3)). Lines are tagged with
 * the module line that wrote them, as pam_syslog prefixes `module(service:type)`.
 * Past the per-call limit lines are dropped and one notice says how many.
 */
import type { LineContext } from './context.js';
import { utf8Length } from './limits.js';
import type { WitPriority } from './types.js';

/**
 * How the hook guard of JS/TS modules (host/build/js.ts) starts the line it
 * logs just before it traps: an uncaught exception, or a value that is not
 * a status. The host makes it the fault's reason, since the trap itself
 * says only `unreachable`.
 */
export const GUEST_FAULT_PREFIX = 'pamwasm guest fault: ';

export function logImports(ctx: LineContext) {
  return {
    syslog(level: WitPriority, message: string): void {
      if (message.startsWith(GUEST_FAULT_PREFIX)) ctx.calls.fault = message.slice(GUEST_FAULT_PREFIX.length, GUEST_FAULT_PREFIX.length + ctx.limits.syslogBytes);
      const n = ++ctx.calls.syslog;
      if (n > ctx.limits.syslogPerCall) {
        ctx.calls.syslogDropped++;
        return;
      }
      const text = utf8Length(message) > ctx.limits.syslogBytes
        ? `${Buffer.from(message).subarray(0, ctx.limits.syslogBytes).toString()}...`
        : message;
      ctx.log({ priority: level, module: ctx.module, message: text });
    },
  };
}
