/**
 * The state of one PAM handle as modules see it: its items and its PAM
 * environment. A session keeps one; when a real libpam handle carries the
 * session, this is synchronised with it around each stack run, so that module
 * calls stay synchronous and cheap.
 */
import type { WitItem } from './types.js';

export interface HandleState {
  /** String items (PAM_SERVICE, PAM_USER, ...); absent when never set. */
  items: Partial<Record<WitItem, string>>;
  /** The PAM environment, in the order variables were first set. */
  env: Map<string, string>;
}

export function newHandleState(items: Partial<Record<WitItem, string>> = {}, env: Record<string, string> = {}): HandleState {
  return { items: { ...items }, env: new Map(Object.entries(env)) };
}
