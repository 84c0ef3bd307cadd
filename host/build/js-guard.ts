import { WIT_STATUSES } from '../codes/index.js';
import { GUEST_FAULT_PREFIX } from '../runtime/log.js';
import { WIT_PACKAGE, WIT_VERSION } from '../wit/index.js';

/**
 * The bundle's entry: the module's hooks behind a guard. SpiderMonkey turns
 * an uncaught exception, or a return value that is not a status, into a
 * bare `unreachable` trap; the guard first logs what happened (an
 * exception's name and message, the value returned) on a line the host
 * makes the fault's reason (GUEST_FAULT_PREFIX), then traps as before, so
 * the line still fails closed with its fault code.
 */
export function hookGuard(entry: string): string {
  return `import * as mod from ${JSON.stringify(entry)};
import { syslog } from ${JSON.stringify(`${WIT_PACKAGE}/log@${WIT_VERSION}`)};
const STATUSES = new Set(${JSON.stringify(WIT_STATUSES)});
const PREFIX = ${JSON.stringify(GUEST_FAULT_PREFIX)};
const describe = (e) => (e instanceof Error ? e.name + ': ' + e.message : 'the value ' + String(e));
function guard(name, hook) {
  return (flags, argv) => {
    let status;
    try {
      status = hook(flags, argv);
    } catch (e) {
      syslog('crit', PREFIX + name + ' threw ' + describe(e));
      throw e;
    }
    if (!STATUSES.has(status)) {
      syslog('crit', PREFIX + name + ' returned ' + JSON.stringify(status) + ', which is not a status (return one of STATUS)');
      throw new TypeError('not a status');
    }
    return status;
  };
}
export const openSession = guard('openSession', mod.openSession);
export const closeSession = guard('closeSession', mod.closeSession);
`;
}
