/**
 * Host side of `pamwasm:session/log` (pam_syslog(3)). Lines are tagged with
 * the module line that wrote them, as pam_syslog prefixes `module(service:type)`.
 * Past the per-call limit lines are dropped and one notice says how many.
 */
import type { LineContext } from './context.js';
import { capped, utf8Length } from './limits.js';
import type { WitPriority } from './types.js';

export function logImports(ctx: LineContext) {
  return {
    syslog: capped(ctx.limits.syslogBytes, (level: WitPriority, message: string): void => {
      const n = ++ctx.calls.syslog;
      if (n > ctx.limits.syslogPerCall) {
        ctx.calls.syslogDropped++;
        return;
      }
      const text = utf8Length(message) > ctx.limits.syslogBytes
        ? `${Buffer.from(message).subarray(0, ctx.limits.syslogBytes).toString()}...`
        : message;
      ctx.log({ priority: level, module: ctx.module, message: text });
    }),
  };
}
