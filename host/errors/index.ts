/**
 * Typed host and usage errors. Each class has a stable `code` string that
 * callers and tests match on; the README lists them in one table.
 *
 * Three kinds of failure are kept apart (as wasmtime's TrappableError does):
 *  - a PAM code a module returns is data, never an exception;
 *  - a guest trap or timeout becomes a fail-closed PAM code plus a logged reason;
 *  - a host or usage error (bad bytes, wrong world, bad config) throws one of these.
 *
 * @example
 *   try { await loadComponent('x.wasm') }
 *   catch (e) { if (e instanceof PamwasmError && e.code === 'ERR_PAMWASM_NOT_A_COMPONENT') ... }
 */
export class PamwasmError extends Error {
  /** Stable machine-readable code, e.g. `ERR_PAMWASM_WRONG_WORLD`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The bytes are not WebAssembly at all, or are truncated / corrupt. */
export class MalformedModuleError extends PamwasmError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PAMWASM_MALFORMED_WASM', message, options); }
}

/** A core WebAssembly module was given where a component is required. */
export class NotAComponentError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_NOT_A_COMPONENT', message); }
}

/** The component does not export the session-module world's functions with the right types. */
export class WrongWorldError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_WRONG_WORLD', message); }
}

/** The component imports something outside the world (e.g. WASI) that was not granted. */
export class ForbiddenImportError extends PamwasmError {
  readonly imports: string[];
  constructor(message: string, imports: string[]) { super('ERR_PAMWASM_FORBIDDEN_IMPORT', message); this.imports = imports; }
}

/** A module file could not be found or read. */
export class ModuleNotFoundError extends PamwasmError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PAMWASM_MODULE_NOT_FOUND', message, options); }
}

/** A stack (pam.d-style) file is malformed; the message names file:line. */
export class StackSyntaxError extends PamwasmError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super('ERR_PAMWASM_STACK_SYNTAX', `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** A command line or API call was used wrongly. */
export class UsageError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_USAGE', message); }
}

/** Building a guest module failed (compiler missing, compile error, componentize failure). */
export class BuildError extends PamwasmError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PAMWASM_BUILD', message, options); }
}

/**
 * An optional package that one feature needs (building JS/TS or C modules,
 * jco's glue for components the loader does not plan itself) is not
 * installed. `install` is the exact command that adds what is missing.
 */
export class MissingDependencyError extends PamwasmError {
  /** The missing packages, as npm names them. */
  readonly packages: string[];
  /** The command that installs them, e.g. `npm install --save-dev esbuild@^0.28.2`. */
  readonly install: string;
  constructor(message: string, packages: string[], install: string, options?: { cause?: unknown }) {
    super('ERR_PAMWASM_MISSING_DEPENDENCY', message, options);
    this.packages = packages;
    this.install = install;
  }
}

/**
 * A libpam call returned a failure or could not be made. Carries the PAM
 * code's number and name and pam_strerror's text.
 */
export class PamError extends PamwasmError {
  readonly pamCode: number;
  readonly pamName: string;
  readonly pamMessage: string;
  constructor(call: string, pamCode: number, pamName: string, pamMessage: string) {
    super('ERR_PAMWASM_PAM', `${call} failed: ${pamName} (${pamCode}): ${pamMessage}`);
    this.pamCode = pamCode;
    this.pamName = pamName;
    this.pamMessage = pamMessage;
  }
}

/**
 * The helper process (or thread) that runs libpam for a handle died: a native
 * module crashed (SIGSEGV, abort) or something killed it. Every call pending on
 * that helper rejects with this error; handles in other helpers go on.
 */
export class PamHelperCrashedError extends PamwasmError {
  /** The signal that ended the helper, e.g. `SIGSEGV`, or null. */
  readonly signal: string | null;
  /** The helper's exit status when it exited without a signal, or null. */
  readonly exitCode: number | null;
  /** The libpam call that was running or waiting, e.g. `pam_open_session`. */
  readonly call: string;
  constructor(call: string, message: string, signal: string | null, exitCode: number | null, options?: { cause?: unknown }) {
    super('ERR_PAMWASM_PAM_HELPER_CRASHED', message, options);
    this.call = call;
    this.signal = signal;
    this.exitCode = exitCode;
  }
}

/** A config dir was asked for, but the system libpam has no pam_start_confdir (Linux-PAM < 1.4.0). */
export class NoConfdirError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_NO_CONFDIR', message); }
}

/** The system libpam (or a required symbol in it) could not be loaded. */
export class LibpamUnavailableError extends PamwasmError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PAMWASM_LIBPAM_UNAVAILABLE', message, options); }
}

/** A stack file (or a file it includes at the top) cannot be read. */
export class StackNotFoundError extends PamwasmError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_PAMWASM_STACK_NOT_FOUND', message, options); }
}

/** A module's sha256 differs from the pin in its stack line. */
export class PinMismatchError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_PIN_MISMATCH', message); }
}

/** Running as root, a stack file or module (or a folder above it) could be changed by someone else. */
export class UnsafePermissionsError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_UNSAFE_PERMISSIONS', message); }
}

/** A core module uses a WebAssembly feature the sandbox cannot meter (the message names opcode and offset). */
export class UnsupportedWasmError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_UNSUPPORTED_WASM', message); }
}

/** A module's memory starts above the memory limit of its stack line. */
export class MemoryLimitError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_MEMORY_LIMIT', message); }
}

/** Which rule of docs/protocol.md a frame broke. */
export type ProtocolFault =
  | 'length' // L is 0 or over the frame limit
  | 'type' // an unknown frame type
  | 'direction' // a frame the sender may not send
  | 'truncated' // a field runs past the end of the frame (or the stream ends inside one)
  | 'trailing' // bytes left over after the last field
  | 'string' // a string over its limit, not UTF-8, or holding a NUL
  | 'count' // a list over its limit
  | 'version' // a protocol version this side does not speak
  | 'value' // a field out of its range (code, style, item, priority, path, entry)
  | 'broken'; // the stream was already refused

/**
 * A pam_wasm.so ⇄ daemon frame broke docs/protocol.md, or a value could not
 * be encoded. `reason` says which rule; the connection is closed.
 */
export class ProtocolError extends PamwasmError {
  readonly reason: ProtocolFault;
  constructor(reason: ProtocolFault, message: string) {
    super('ERR_PAMWASM_PROTOCOL', message);
    this.reason = reason;
  }
}

/** A sandbox setting of a stack line (`memory=`, `timeout=`, `fault=`...) or of the host API's defaults is invalid. */
export class BadSettingError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_BAD_SETTING', message); }
}

/** A core module declares more of an instance resource (tables, table elements, globals, memories, segment bytes, core instances) than the sandbox's caps allow. */
export class ResourceLimitError extends PamwasmError {
  constructor(message: string) { super('ERR_PAMWASM_RESOURCE_LIMIT', message); }
}
