// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * pamwasm: run PAM session modules as sandboxed WebAssembly components.
 *
 * The package's entry points, by what a caller does with them:
 *  - `pamwasm`: the host (sessions around a real libpam stack, the registry,
 *    recovery), the engine that owns what sessions share, typed errors and
 *    the PAM code table;
 *  - `pamwasm/stack`: stack files, the dispatcher, `runStack` (also here:
 *    one stack run once, what `pamwasm run` does), `StackSession`;
 *  - `pamwasm/loader`: load and check one component;
 *  - `pamwasm/libpam`: the bridge to the system libpam;
 *  - `pamwasm/build`: build C and JS/TS modules (optional builder packages);
 *  - `pamwasm/testing`: run a module or stack in a test and assert on the result;
 *  - `pamwasm/sdk`: the TypeScript SDK for module authors; `pamwasm/sdk/c/*` the C SDK.
 *
 * @example
 *   import { createHost } from 'pamwasm';
 *   const host = await createHost({ system: { service: 'login' } });
 *   const session = await host.openSession({ stack: '/etc/pamwasm/login.stack', service: 'login', user: 'alice', tty: 'pts/3' });
 *   ...
 *   await session.close();
 */
export { createHost, PamwasmHost, Session, Registry, defaultRegistryPath } from './sessions/index.js';
export type { HostOptions, OpenSessionOptions, CloseResult, SessionRecord, SessionState, ClosedRecord } from './sessions/index.js';
export type { TraceEntry, Fault, FaultKind } from './stack/index.js';
export { runStack, type RunOptions, type RunResult } from './stack/index.js';
export { createEngine, type Engine, type EngineOptions, type EngineStats } from './engine/index.js';
export { PAM_CODES, codeByName, codeByNumber, codeByStatus } from './codes/index.js';
export * from './errors/index.js';
export type { Conversation, ConvMessage, MessageStyle, PamMode, PamResult } from './libpam/index.js';
export { formatLogRecord, logSink, type LogOption, type LogRecord } from './runtime/index.js';
