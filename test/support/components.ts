/**
 * Components made on the fly from WIT text, for loader tests: wasm-tools'
 * "dummy" core module implements any world (its bodies trap), so the
 * component has exactly the imports and exports that the WIT declares.
 */
import { componentEmbed, componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';
import { witSource } from '../../host/wit/index.js';

export async function componentFromWit(wit: string, world: string): Promise<Uint8Array> {
  const embedded = await componentEmbed({ dummy: true, witSource: wit, world });
  return componentNew(embedded);
}

/** The session-module WIT plus extra top-level text (worlds, interfaces). */
export function sessionWitWith(extra: string): string {
  return `${witSource()}\n${extra}`;
}
