/**
 * `pamwasm run --system-service NAME`: the WASM stack inside a system PAM
 * session, as an application using the host API gets it. The system stack
 * (a pam.d service, from --system-confdir or /etc/pam.d) runs on a real
 * libpam handle through createHost's Session; nothing is kept (the registry
 * is in memory).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PAM } from '../codes/index.js';
import { UsageError } from '../errors/index.js';
import type { LogRecord, WitItem } from '../runtime/index.js';
import { createHost } from '../sessions/index.js';
import type { RunResult } from '../stack/index.js';
import type { Engine } from '../engine/index.js';

export interface SystemRunResult extends RunResult {
  /** The system stack's own codes (the WASM stack's are in the trace). */
  system: { open?: { code: number; name: string }; close?: { code: number; name: string } };
}

export interface SystemRunOptions {
  stackFile: string;
  items: Partial<Record<WitItem, string>> & { service: string; user: string };
  silent?: boolean;
  moduleDir?: string;
  service: string;
  confdir?: string;
  /** The engine the host runs the WASM stack with. Default: the host's own. */
  engine?: Engine;
}

/**
 * Refuses a system service with no pam.d file: libpam would quietly run
 * `other` instead, or fail the whole session with a bare PAM_ABORT when
 * there is none (pam_start_confdir reads only confdir/<service> and
 * confdir/other).
 */
export function checkSystemService(service: string, confdir = '/etc/pam.d'): void {
  if (service.includes('/') || service === '.' || service === '..') {
    throw new UsageError(`--system-service ${service} is not a PAM service name: give the name of a file in ${confdir}, such as login.`);
  }
  if (!existsSync(join(confdir, service))) {
    throw new UsageError(`--system-service ${service}: there is no PAM service file ${join(confdir, service)}; name a file of ${confdir}${confdir === '/etc/pam.d' ? '' : ' (--system-confdir)'}, such as login.`);
  }
}

const envFromList = (list: string[]) => Object.fromEntries(list.map((e) => {
  const eq = e.indexOf('=');
  return [e.slice(0, eq), e.slice(eq + 1)];
}));

/**
 * Opens and closes one session: `open` and `close` are what the application
 * gets (a failing system stack's code, else the WASM stack's), `system`
 * what the system stack returned, `env` pam_getenvlist at the end.
 */
export async function runWithSystem(o: SystemRunOptions): Promise<SystemRunResult> {
  const syslog: LogRecord[] = [];
  const host = await createHost({
    registry: ':memory:', moduleDir: o.moduleDir, system: { service: o.service, confdir: o.confdir }, log: (r) => syslog.push(r), engine: o.engine,
  });
  try {
    const { service, user, tty, rhost, ruser } = o.items;
    const s = await host.openSession({ stack: o.stackFile, service, user, tty, rhost, ruser, silent: o.silent });
    const result: SystemRunResult = {
      open: { code: s.code, name: s.name },
      system: s.system ? { open: s.system } : {},
      messages: [...s.messages],
      env: s.envObject(),
      trace: [...s.trace],
      syslog,
      diagnostics: s.diagnostics,
      ok: s.opened,
    };
    if (s.opened) {
      const c = await s.close({ silent: o.silent });
      result.close = { code: c.code, name: c.name };
      if (c.system) result.system.close = c.system;
      result.messages.push(...c.messages);
      result.trace.push(...c.trace);
      result.env = envFromList(c.env);
      result.ok = c.code === PAM.SUCCESS.number;
    }
    return result;
  } finally {
    await host.shutdown();
  }
}
