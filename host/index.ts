/**
 * pamwasm: run PAM session modules as sandboxed WebAssembly components.
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
export { loadComponent, type LoadedComponent, type LoadOptions } from './loader/index.js';
export { parseStackFile, parkIdleLines, runStack, StackSession, SANDBOX_DEFAULTS } from './stack/index.js';
export { setMemoryLimit } from './sandbox/limits.js';
export type { RunOptions, RunResult, TraceEntry, Stack, Diagnostic, SandboxDefaults } from './stack/index.js';
export { openPamHandle, PamHelper, PamHandle } from './libpam/index.js';
export { PAM_CODES, codeByName, codeByNumber, codeByStatus } from './codes/index.js';
export * from './errors/index.js';
export type { Conversation, ConvMessage, PamMode, PamResult } from './libpam/index.js';
export { formatLogRecord, logSink, type LogOption, type LogRecord } from './runtime/index.js';
