import { UsageError } from '../errors/index.js';
import { didYouMean } from '../errors/suggest.js';

/** A usage error whose sentence ends with where to find help. */
export function usage(what: string, command?: string): UsageError {
  return new UsageError(`${what}; see \`pamwasm ${command ? `${command} ` : ''}--help\`.`);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration option's value (`300us`, `500ms`, `2s`, `5m`, `12h`, `30d`, `0`) in milliseconds; a usage error of `command` if it is none. */
export function duration(v: string, option: string, command: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/.exec(v);
  if (!m) throw usage(`${option} ${v} is not a duration such as 500ms, 2s, 12h or 7d`, command);
  return Number(m[1]) * (m[2] ? UNIT_MS[m[2]] : 1);
}

/** The long options a command's help lists, for "did you mean". */
export const optionsOf = (help: string): Set<string> => new Set([...help.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]));

/**
 * The one sentence for an error of a command whose usage is `help`: util.parseArgs's
 * unknown option gets the option it was probably meant to be.
 */
export function errorSentence(e: Error & { code?: string }, help: string): string {
  const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /option '(--[^'=]+)/.exec(e.message)?.[1] : undefined;
  if (!unknown) return e.message;
  return `unknown option ${unknown}${didYouMean(unknown, optionsOf(help), (s) => s)}; see the options with --help.`;
}
