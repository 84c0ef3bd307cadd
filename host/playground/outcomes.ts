/**
 * The all-outcomes table: for every combination of results of a stack's
 * module lines over a chosen set of codes, the final codes of open-session
 * and then close-session, through the one dispatcher (host/stack/dispatch.ts)
 * with each line answering its chosen code at both hooks, exactly as a
 * what-if does in a StackSession. Lines that are not modules (malformed
 * lines, substack headers) keep their fixed behaviour.
 */
import { codeByNumber, codeByToken, PAM_CODES } from '../codes/index.js';
import { UsageError } from '../errors/index.js';
import { dispatch, newDispatchState } from '../stack/dispatch.js';
import type { Stack } from '../stack/parse.js';

/** The most combinations worked out; a larger table says it was capped. */
export const OUTCOME_CAP = 4096;
/** The codes varied when none are chosen. */
export const DEFAULT_OUTCOME_CODES = ['success', 'ignore', 'session_err'] as const;

export interface OutcomeRow {
  /** The code token each varied line returned, in `lines` order. */
  results: string[];
  open: string;
  close: string;
}

export interface OutcomeTable {
  /** The varied lines: handler indexes, with their file:line. */
  lines: { index: number; file: string; line: number }[];
  codes: string[];
  rows: OutcomeRow[];
  /** Every combination there is (codes ^ lines). */
  combinations: number;
  /** True when only the first OUTCOME_CAP combinations were worked out. */
  capped: boolean;
}

/** Code tokens or PAM_ names, checked against the table; one sentence when one is unknown. */
export function parseCodes(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const token = w.trim().toLowerCase().replace(/^pam_/, '').replace(/-/g, '_');
    if (!codeByToken(token)) {
      throw new UsageError(`"${w}" is not a PAM code: write a token such as success, ignore or session_err (${PAM_CODES.length} in all, as in pam_debug's args).`);
    }
    if (!out.includes(token)) out.push(token);
  }
  if (!out.length) throw new UsageError('choose at least one code for the all-outcomes table, e.g. success,ignore,session_err.');
  return out;
}

/** Works out the table for `stack`'s module lines over `codes` (tokens). */
export async function allOutcomes(stack: Stack, codes: readonly string[] = DEFAULT_OUTCOME_CODES): Promise<OutcomeTable> {
  const chosen = parseCodes(codes);
  const numbers = chosen.map((t) => codeByToken(t)!.number);
  const varied = stack.handlers.flatMap((h, index) => (h.kind === 'module' ? [index] : []));
  const combinations = chosen.length ** varied.length;
  const count = Math.min(combinations, OUTCOME_CAP);
  const slot = new Map(varied.map((index, k) => [index, k]));
  const rows: OutcomeRow[] = [];
  const digits = new Array<number>(varied.length).fill(0);
  for (let n = 0; n < count; n++) {
    // Combination n, the last line varying fastest.
    let rest = n;
    for (let k = varied.length - 1; k >= 0; k--) {
      digits[k] = rest % chosen.length;
      rest = Math.floor(rest / chosen.length);
    }
    const call = (i: number) => numbers[digits[slot.get(i)!]];
    const state = newDispatchState(stack.handlers.length);
    const fatal = stack.fatal !== undefined;
    const open = fatal ? codeByToken('abort')!.number : await dispatch(stack.handlers, state, 'open', call);
    const close = fatal ? codeByToken('abort')!.number : await dispatch(stack.handlers, state, 'close', call);
    rows.push({ results: digits.map((d) => chosen[d]), open: codeByNumber(open).name, close: codeByNumber(close).name });
  }
  return {
    lines: varied.map((index) => ({ index, file: stack.handlers[index].file, line: stack.handlers[index].line })),
    codes: chosen, rows, combinations, capped: count < combinations,
  };
}
