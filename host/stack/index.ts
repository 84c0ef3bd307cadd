// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * pam.d-style stacks with libpam's semantics: parse a stack file, bind it
 * to a session, run open-session and close-session through the one
 * dispatcher, and get a trace of what each line did.
 *
 * @example
 *   import { parseStackFile, StackSession, newHandleState } from 'pamwasm/stack';
 *   const stack = parseStackFile('demo.stack');
 *   const session = await StackSession.create(stack, newHandleState({ service: 'login', user: 'alice' }));
 *   const opened = await session.open();   // { code: 0, name: 'PAM_SUCCESS', trace: [...] }
 *   const closed = await session.close();
 */
export { parseStackFile, parseStackText, type ParseOptions, type Stack, type Handler, type Diagnostic, type ConfigLine } from './parse.js';
export { dispatch, newDispatchState, MUST_FAIL, type DispatchLine, type DispatchState, type Hook, type Step } from './dispatch.js';
export { ACTION, actionName, parseBracket, keywordActions } from './actions.js';
export { PreparedStack, type PrepareOptions } from './prepared.js';
export { ParkRegistry } from './park.js';
export { StackSession, resolveModulePath, BUNDLED_MODULE_DIR, type TraceEntry, type HookResult, type SessionOptions, type SessionSnapshot, type WhatIf } from './session.js';
export { lineLoadOptions, SANDBOX_DEFAULTS, type SandboxDefaults } from './line-options.js';
export { runStack, type RunOptions, type RunResult } from './run.js';
export { scriptedConversation, type PromptRecord, type Answerer } from './answers.js';
export { newHandleState, type HandleState, type StackConversation } from '../runtime/index.js';
export type { Fault, FaultKind } from '../sandbox/index.js';
