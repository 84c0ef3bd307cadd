/**
 * The WebAssembly binary format: one bounds-checked reader (with the
 * strictness of its user as a parameter), one writer, and the section
 * structure. The component reader (loader/component/), the loader's
 * skeletons and checks, and the sandbox's instrument layer all read and
 * write through it.
 */
export { Reader, METER_STRICTNESS, hex, malformed, unsupported, type Strictness } from './reader.js';
export { Writer, lebSize } from './writer.js';
export { COMPONENT_PREAMBLE, MODULE_PREAMBLE, PREAMBLE_SIZE, expectPreamble, sectionHeaders, type SectionHeader } from './sections.js';
