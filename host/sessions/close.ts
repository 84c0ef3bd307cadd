/**
 * Closing a recorded session in a process other than the one that opened
 * it (after a crash, or pam_exec's close process): the WASM stack's close
 * runs on fresh instances that get back the module data and the frozen chain
 * saved at open, with the modules pinned to the hashes they had then; the
 * system stack's close runs on a new libpam handle with the same items, as
 * an application closing a utmp entry of another process would.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { codeByNumber, PAM } from '../codes/index.js';
import { openPamHandle, type PamMode } from '../libpam/index.js';
import { newHandleState, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { parseStackFile, StackSession, type SessionOptions, type TraceEntry } from '../stack/index.js';
import type { Registry, SessionRecord } from './registry.js';

export interface ClosedRecord {
  id: string;
  user: string;
  tty: string | null;
  code: number;
  name: string;
  /** The WASM stack's and the system stack's close codes. */
  wasm: { code: number; name: string };
  system?: { code: number; name: string };
  trace: TraceEntry[];
  messages: ConvMessage[];
  /** Why the close could not run as recorded, if it could not. */
  problem?: string;
}

export interface CloseRecordOptions extends Pick<SessionOptions, 'sandbox' | 'strictPermissions'> {
  by: string;
  silent?: boolean;
  mode?: PamMode;
  log?: (r: LogRecord) => void;
  onMessage?: (m: ConvMessage) => void;
}

export const recordItems = (r: SessionRecord): Partial<Record<WitItem, string>> =>
  Object.fromEntries(
    ([['service', r.service], ['user', r.user], ['tty', r.tty], ['rhost', r.rhost], ['ruser', r.ruser]] as const).filter(([, v]) => v != null),
  ) as Partial<Record<WitItem, string>>;

const named = (code: number) => ({ code, name: codeByNumber(code).name });

/** Closes a session the caller has claimed in `registry`, and records it closed. */
export async function closeRecord(registry: Registry, r: SessionRecord, o: CloseRecordOptions): Promise<ClosedRecord> {
  const messages: ConvMessage[] = [];
  let trace: TraceEntry[] = [];
  let wasm = named(PAM.ABORT.number);
  let problem: string | undefined;
  try {
    const sha = createHash('sha256').update(readFileSync(r.stack)).digest('hex');
    if (sha !== r.stackSha256) problem = `stack file ${r.stack} changed since the session opened; closing with it as it is now`;
    const stack = parseStackFile(r.stack, { strictPermissions: o.strictPermissions });
    const session = await StackSession.create(stack, newHandleState(recordItems(r), r.env), {
      moduleDir: r.moduleDir ?? undefined,
      sandbox: o.sandbox,
      strictPermissions: o.strictPermissions,
      pins: r.snapshot?.modules,
      log: o.log,
      conversation: {
        info: (text) => void o.onMessage?.({ style: 'info', text }),
        error: (text) => void o.onMessage?.({ style: 'error', text }),
      },
    });
    if (r.snapshot) session.restore(r.snapshot);
    const closed = await session.close({ silent: o.silent });
    session.end();
    wasm = named(closed.code);
    trace = closed.trace;
    messages.push(...session.messages);
  } catch (e) {
    // Whatever stops the WASM close (stack gone or changed shape), the session
    // is still recorded closed: a close that can never succeed must not run again.
    problem = `${problem ? `${problem}; ` : ''}${(e as Error).message}`;
  }
  let system: { code: number; name: string } | undefined;
  if (r.systemService) {
    try {
      const h = await openPamHandle({
        service: r.systemService,
        user: r.user,
        confdir: r.systemConfdir ?? undefined,
        mode: o.mode,
        items: { ...(r.tty ? { tty: r.tty } : {}), ...(r.rhost ? { rhost: r.rhost } : {}), ...(r.ruser ? { ruser: r.ruser } : {}) },
        conversation: (ms) => {
          for (const m of ms) if (m.style === 'info' || m.style === 'error') messages.push({ style: m.style, text: m.text });
          return ms.map(() => null);
        },
      });
      for (const [k, v] of Object.entries(r.env)) await h.putenv(`${k}=${v}`);
      const c = await h.closeSession({ silent: o.silent, throwOnError: false });
      await h.end({ throwOnError: false });
      system = named(c.code);
    } catch (e) {
      system = named(PAM.SYSTEM_ERR.number);
      problem = `${problem ? `${problem}; ` : ''}system close failed: ${(e as Error).message}`;
    }
  }
  const failed = [wasm, system].find((x) => x && x.code !== PAM.SUCCESS.number);
  const overall = failed ?? wasm;
  registry.closed(r.id, overall.code, o.by);
  return { id: r.id, user: r.user, tty: r.tty, ...overall, wasm, ...(system ? { system } : {}), trace, messages, ...(problem ? { problem } : {}) };
}
