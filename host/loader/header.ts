/**
 * Classifies bytes by their WebAssembly preamble before anything heavier
 * looks at them, so that the common mistakes get a precise error:
 * random bytes, a core module instead of a component, a truncated file.
 */
import { MalformedModuleError, NotAComponentError } from '../errors/index.js';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
// Binary format preamble: 4-byte magic, then a 2-byte version and a 2-byte
// layer. Core modules are version 1 layer 0; components are layer 1 (the
// version field of the component encoding is 0x0d during the preview).
const CORE_LAYER = 0;
const COMPONENT_LAYER = 1;

export function checkComponentHeader(bytes: Uint8Array, where: string): void {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex') || 'nothing';
    throw new MalformedModuleError(
      `${where} is not a WebAssembly binary (it starts with ${head}, not 0061736d): ` +
        'give a component built with `pamwasm build` or `npm run build:guests`.',
    );
  }
  const layer = bytes[6] | (bytes[7] << 8);
  if (layer === CORE_LAYER) {
    throw new NotAComponentError(
      `${where} is a core WebAssembly module, not a component: wrap it with the session-module ` +
        'world (componentEmbed + componentNew), or build it with `pamwasm build`.',
    );
  }
  if (layer !== COMPONENT_LAYER) {
    throw new MalformedModuleError(`${where} has an unknown WebAssembly layer ${layer}: it is neither a core module nor a component.`);
  }
}
