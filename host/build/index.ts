// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * Building guest modules into session-module components: C folders with the
 * C SDK (clang, lld, wasi-libc), JS/TS folders with componentize-js, and the
 * whole guest-modules/ tree (`npm run build:guests`, `--check` in CI).
 *
 * @example
 *   const bytes = await buildCModule('guest-modules/pam_echo', '/tmp/pam_echo.wasm', { onProgress: console.error });
 */
export { buildCModule, cGuestFolders, type CBuildOptions } from './c.js';
export { buildJsModule, buildJsModules, jsGuestFolders, type JsBuildOptions } from './js.js';
export { buildGuests, type BuiltGuest, type BuildGuestsOptions } from './all.js';
