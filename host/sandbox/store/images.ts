/**
 * What the store learns about each compiled core module: what the meter left
 * in it (its pooled memory import, whether it can be parked), and its memory
 * as instantiation leaves it. Held weakly by module, by the engine that
 * compiled the module, so it goes when the engine's cache lets the module go.
 */
import { pooledMemoryLimits, SANDBOX_MODULE, STATE_SECTION } from '../instrument/index.js';

/** What the meter left in a core module: its pooled memory import and whether it can be parked. */
export interface ModuleFacts { memory?: { name: string; initial: number; maximum: number }; parkable: boolean }

export class ModuleImages {
  private readonly facts = new WeakMap<WebAssembly.Module, ModuleFacts>();
  /**
   * Each parkable core module's memory as instantiation leaves it (its data
   * segments on zeros, before any of its code ran), taken at its first
   * instantiation: a parked memory keeps only the pages that differ from it,
   * and a new instance starts from it anyway. For a JS module (a 9 MB image
   * of a JS engine) that is the difference between keeping megabytes per
   * parked session and keeping the pages its run changed.
   */
  private readonly images = new WeakMap<WebAssembly.Module, Uint8Array>();

  factsOf(module: WebAssembly.Module): ModuleFacts {
    let found = this.facts.get(module);
    if (!found) {
      found = { parkable: false };
      for (const i of WebAssembly.Module.imports(module)) {
        const limits = i.module === SANDBOX_MODULE && i.kind === 'memory' ? pooledMemoryLimits(i.name) : undefined;
        if (limits) found.memory = { name: i.name, ...limits };
      }
      const state = WebAssembly.Module.customSections(module, STATE_SECTION);
      found.parkable = state.length === 1 && new Uint8Array(state[0])[0] === 1;
      this.facts.set(module, found);
    }
    return found;
  }

  /**
   * The module's memory image: the one known, else a copy of `memory` when
   * `fresh` says no code ran since instantiation wrote it (then it is the image).
   */
  imageOf(module: WebAssembly.Module, memory: WebAssembly.Memory, fresh: boolean): Uint8Array | undefined {
    let image = this.images.get(module);
    if (!image && fresh) this.images.set(module, image = new Uint8Array(memory.buffer).slice());
    return image;
  }
}
