/**
 * Closing a recorded session in a process other than the one that opened
 * it (after a crash, or pam_exec's close process): the WASM stack's close
 * runs on fresh instances that get back the module data and the frozen chain
 * saved at open, with the modules pinned to the hashes they had then; the
 * system stack's close runs on a new libpam handle with the same items, as
 * an application closing a utmp entry of another process would.
 */
import { namedCode, PAM } from '../codes/index.js';
import { openPamHandle, type PamMode } from '../libpam/index.js';
import type { ConvMessage, LogRecord } from '../runtime/index.js';
import type { SessionOptions, TraceEntry } from '../stack/index.js';
import type { Registry, SessionRecord } from './registry.js';
import { closeWasmStack, recordItems } from './wasm-close.js';

/** What a close gave: the overall code (the first failure), each stack's, the trace and the messages. */
export interface CloseOutcome {
  code: number;
  name: string;
  /** The WASM stack's and the system stack's close codes. */
  wasm: { code: number; name: string };
  system?: { code: number; name: string };
  trace: TraceEntry[];
  messages: ConvMessage[];
}

export interface ClosedRecord extends CloseOutcome {
  id: string;
  user: string;
  tty: string | null;
  /** Why the close could not run as recorded, if it could not. */
  problem?: string;
}

/** The items after service and user that a libpam handle of a session gets: those that are set. */
export function lineItems(o: { tty?: string | null; rhost?: string | null; ruser?: string | null }): { tty?: string; rhost?: string; ruser?: string } {
  const out: { tty?: string; rhost?: string; ruser?: string } = {};
  for (const k of ['tty', 'rhost', 'ruser'] as const) if (o[k]) out[k] = o[k]!;
  return out;
}

/** A close's overall code: the first stack's that failed (WASM, then system), else the WASM stack's. */
export function closeOverall(wasm: { code: number; name: string }, system?: { code: number; name: string }): { code: number; name: string } {
  return [wasm, system].find((x) => x && x.code !== PAM.SUCCESS.number) ?? wasm;
}

/** Keeps the info and error messages of one libpam conversation call, in order. */
export function collectMessages(messages: ConvMessage[], ms: readonly { style: string; text: string }[]): void {
  for (const m of ms) if (m.style === 'info' || m.style === 'error') messages.push({ style: m.style, text: m.text });
}

export interface CloseRecordOptions extends Pick<SessionOptions, 'sandbox' | 'strictPermissions' | 'cache' | 'engine'> {
  by: string;
  silent?: boolean;
  mode?: PamMode;
  log?: (r: LogRecord) => void;
  onMessage?: (m: ConvMessage) => void;
}


/** Closes a session the caller has claimed in `registry`, and records it closed. */
export async function closeRecord(registry: Registry, r: SessionRecord, o: CloseRecordOptions): Promise<ClosedRecord> {
  const w = await closeWasmStack(
    { id: r.id, stack: r.stack, stackSha256: r.stackSha256, moduleDir: r.moduleDir, snapshot: r.snapshot, items: recordItems(r), env: r.env },
    o,
  );
  const { wasm, trace, messages } = w;
  let problem = w.problem;
  let system: { code: number; name: string } | undefined;
  if (r.systemService) {
    try {
      const h = await openPamHandle({
        service: r.systemService,
        user: r.user,
        confdir: r.systemConfdir ?? undefined,
        mode: o.mode,
        items: lineItems(r),
        conversation: (ms) => {
          collectMessages(messages, ms);
          return ms.map(() => null);
        },
      });
      for (const [k, v] of Object.entries(r.env)) await h.putenv(`${k}=${v}`);
      const c = await h.closeSession({ silent: o.silent, throwOnError: false });
      await h.end({ throwOnError: false });
      system = namedCode(c.code);
    } catch (e) {
      system = namedCode(PAM.SYSTEM_ERR.number);
      problem = `${problem ? `${problem}; ` : ''}system close failed: ${(e as Error).message}`;
    }
  }
  const overall = closeOverall(wasm, system);
  registry.closed(r.id, overall.code, o.by);
  return { id: r.id, user: r.user, tty: r.tty, ...overall, wasm, ...(system ? { system } : {}), trace, messages, ...(problem ? { problem } : {}) };
}
