/**
 * Host side of `pamwasm:session/env` with pam_putenv(3) semantics, as
 * Linux-PAM's libpam/pam_env.c implements them: `NAME=value` sets,
 * `NAME=` sets the empty string, a bare `NAME` deletes (PAM_BAD_ITEM when it
 * was not set), and an empty name or one starting with `=` is PAM_PERM_DENIED.
 */
import type { WitStatus } from '../codes/index.js';
import type { LineContext } from './context.js';
import { capped, utf8Length } from './limits.js';

/** Applies one pam_putenv string to `env`; the status a module would get. */
export function putEnv(env: Map<string, string>, nameValue: string, limits?: { envBytes: number; envEntries: number }): WitStatus {
  if (!nameValue || nameValue.startsWith('=')) return 'perm-denied';
  // Before anything that reads past the first byte: an argument over the
  // limit may reach here cut short (host/loader/lift.ts).
  if (limits && utf8Length(nameValue) > limits.envBytes) return 'buf-err';
  const eq = nameValue.indexOf('=');
  if (eq < 0) return env.delete(nameValue) ? 'success' : 'bad-item';
  const name = nameValue.slice(0, eq);
  const value = nameValue.slice(eq + 1);
  if (limits) {
    const grows = !env.has(name);
    if (grows && env.size >= limits.envEntries) return 'buf-err';
    let bytes = utf8Length(nameValue);
    for (const [k, v] of env) if (k !== name) bytes += utf8Length(k) + utf8Length(v) + 1;
    if (bytes > limits.envBytes) return 'buf-err';
  }
  env.set(name, value);
  return 'success';
}

export function envImports(ctx: LineContext) {
  return {
    // A name longer than the environment's byte limit is not looked up.
    getEnv: capped(ctx.limits.envBytes, (name: string): string | undefined => (utf8Length(name) <= ctx.limits.envBytes ? ctx.handle.env.get(name) : undefined)),
    putEnv: capped(ctx.limits.envBytes, (nameValue: string): WitStatus => putEnv(ctx.handle.env, nameValue, ctx.limits)),
    listEnv(): string[] {
      return [...ctx.handle.env].map(([k, v]) => `${k}=${v}`);
    },
  };
}
