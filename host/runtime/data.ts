/**
 * Host side of `pamwasm:session/data` (pam_set_data(3) / pam_get_data(3)).
 * Each stack line has its own map, so modules never see each other's data
 * (libpam keys data by name only; a per-line map is stricter and avoids two
 * lines of one module clobbering each other).
 */
import type { WitStatus } from '../codes/index.js';
import type { LineContext } from './context.js';
import { capped, utf8Length } from './limits.js';

/**
 * One line's module data, with the bytes it holds (each name in UTF-8 plus
 * its value) kept up to date as it changes, so a set checks the line's limit
 * without adding up every entry.
 */
export class ModuleData extends Map<string, Uint8Array> {
  #bytes = 0;

  get bytes(): number {
    return this.#bytes;
  }

  override set(name: string, value: Uint8Array): this {
    const old = super.get(name);
    this.#bytes += (old === undefined ? utf8Length(name) : -old.length) + value.length;
    return super.set(name, value);
  }

  override delete(name: string): boolean {
    const old = super.get(name);
    if (old !== undefined) this.#bytes -= utf8Length(name) + old.length;
    return super.delete(name);
  }

  override clear(): void {
    this.#bytes = 0;
    super.clear();
  }
}

export function dataImports(ctx: LineContext) {
  // A name longer than the line's data limit can name no entry.
  const fits = (name: string) => utf8Length(name) <= ctx.limits.dataBytes;
  return {
    setData: capped(ctx.limits.dataBytes, (name: string, value: Uint8Array): WitStatus => {
      const old = ctx.data.get(name);
      const after = ctx.data.bytes - (old ? utf8Length(name) + old.length : 0) + utf8Length(name) + value.length;
      if (after > ctx.limits.dataBytes) return 'buf-err';
      // jco hands over a view of guest memory; keep a copy that outlives the call.
      ctx.data.set(name, Uint8Array.from(value));
      return 'success';
    }),
    getData: capped(ctx.limits.dataBytes, (name: string): Uint8Array | undefined => (fits(name) ? ctx.data.get(name) : undefined)),
    deleteData: capped(ctx.limits.dataBytes, (name: string): WitStatus => (fits(name) && ctx.data.delete(name) ? 'success' : 'no-module-data')),
  };
}
