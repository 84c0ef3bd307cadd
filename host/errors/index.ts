/**
 * Typed host and usage errors. Each class has a stable `code` string that
 * callers and tests match on; docs/errors.md lists every code, what it
 * means and what to do (test/docs/errors.test.ts keeps the two in step).
 *
 * Three kinds of failure are kept apart (as wasmtime's TrappableError does):
 *  - a PAM code a module returns is data, never an exception;
 *  - a guest trap or timeout becomes a fail-closed PAM code plus a typed fault;
 *  - a host or usage error (bad bytes, wrong world, bad config) throws one of these.
 *
 * `instanceof` holds across copies of this file: the package's own modules
 * and the bundled `pamwasm exec` script (dist/pamwasm-exec.cjs) each carry
 * the classes, so an error one copy throws is matched by the other's class
 * through a brand registered with `Symbol.for`, and a subclass by its code.
 *
 * @example
 *   try { await loadComponent('x.wasm') }
 *   catch (e) { if (e instanceof PamwasmError && e.code === 'ERR_PAMWASM_NOT_A_COMPONENT') ... }
 */

/** Every code a PamwasmError carries, in the order docs/errors.md lists them. */
export const ERROR_CODES = [
  'ERR_PAMWASM_MALFORMED_WASM',
  'ERR_PAMWASM_NOT_A_COMPONENT',
  'ERR_PAMWASM_WRONG_WORLD',
  'ERR_PAMWASM_FORBIDDEN_IMPORT',
  'ERR_PAMWASM_MODULE_NOT_FOUND',
  'ERR_PAMWASM_STACK_NOT_FOUND',
  'ERR_PAMWASM_STACK_SYNTAX',
  'ERR_PAMWASM_USAGE',
  'ERR_PAMWASM_BUILD',
  'ERR_PAMWASM_PAM',
  'ERR_PAMWASM_PAM_HELPER_CRASHED',
  'ERR_PAMWASM_NO_CONFDIR',
  'ERR_PAMWASM_LIBPAM_UNAVAILABLE',
  'ERR_PAMWASM_PIN_MISMATCH',
  'ERR_PAMWASM_UNSAFE_PERMISSIONS',
  'ERR_PAMWASM_BAD_SETTING',
  'ERR_PAMWASM_UNSUPPORTED_WASM',
  'ERR_PAMWASM_MEMORY_LIMIT',
  'ERR_PAMWASM_RESOURCE_LIMIT',
  'ERR_PAMWASM_PROTOCOL',
  'ERR_PAMWASM_MISSING_DEPENDENCY',
] as const;

/** A PamwasmError's `code`. */
export type PamwasmErrorCode = (typeof ERROR_CODES)[number];

/** Whether `code` is one of {@link ERROR_CODES}. */
export function isPamwasmErrorCode(code: unknown): code is PamwasmErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(code);
}

/**
 * The brand every PamwasmError carries, from any copy of this file:
 * `Symbol.for` gives each copy the same symbol (undici brands its errors
 * the same way). Its value is the code of the class that made the error
 * (null for PamwasmError itself), so an error is an instance of a subclass
 * only when that subclass, with its fields, made it: a PamwasmError made
 * with a subclass's code is not one.
 */
const kPamwasmError = Symbol.for('pamwasm.error');

export class PamwasmError extends Error {
  /**
   * The code every instance of a subclass carries; undefined on
   * PamwasmError itself, whose instances carry any code.
   */
  static readonly code: PamwasmErrorCode | undefined = undefined;

  /**
   * `value instanceof C` for C this class or a subclass, in any copy of
   * this file: `value` carries the brand and, for a subclass, its code. A
   * subclass declared elsewhere without a code of its own is matched as
   * JavaScript matches any class, by its prototype.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(kPamwasmError in value)) return false;
    if (this === PamwasmError) return true;
    if (!Object.hasOwn(this, 'code')) return Function.prototype[Symbol.hasInstance].call(this, value);
    return (value as PamwasmError)[kPamwasmError] === (this as typeof PamwasmError).code;
  }

  /** Stable machine-readable code, e.g. `ERR_PAMWASM_WRONG_WORLD`. */
  readonly code: PamwasmErrorCode;
  declare readonly [kPamwasmError]: PamwasmErrorCode | null;
  constructor(code: PamwasmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, kPamwasmError, { value: (new.target as typeof PamwasmError).code ?? null });
  }
}

/** The bytes are not WebAssembly at all, or are truncated / corrupt. */
export class MalformedModuleError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_MALFORMED_WASM' as const;
  constructor(message: string, options?: { cause?: unknown }) { super(MalformedModuleError.code, message, options); }
}

/** A core WebAssembly module was given where a component is required. */
export class NotAComponentError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_NOT_A_COMPONENT' as const;
  constructor(message: string) { super(NotAComponentError.code, message); }
}

/** The component does not export the session-module world's functions with the right types. */
export class WrongWorldError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_WRONG_WORLD' as const;
  constructor(message: string) { super(WrongWorldError.code, message); }
}

/** The component imports something outside the world (e.g. WASI) that was not granted. */
export class ForbiddenImportError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_FORBIDDEN_IMPORT' as const;
  readonly imports: string[];
  constructor(message: string, imports: string[]) { super(ForbiddenImportError.code, message); this.imports = imports; }
}

/** A module file could not be found or read. */
export class ModuleNotFoundError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_MODULE_NOT_FOUND' as const;
  constructor(message: string, options?: { cause?: unknown }) { super(ModuleNotFoundError.code, message, options); }
}

/** A stack (pam.d-style) file is malformed; the message names file:line. */
export class StackSyntaxError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_STACK_SYNTAX' as const;
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(StackSyntaxError.code, `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** A command line or API call was used wrongly. */
export class UsageError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_USAGE' as const;
  constructor(message: string) { super(UsageError.code, message); }
}

/** Building a guest module failed (compiler missing, compile error, componentize failure). */
export class BuildError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_BUILD' as const;
  constructor(message: string, options?: { cause?: unknown }) { super(BuildError.code, message, options); }
}

/**
 * An optional package that one feature needs (building JS/TS or C modules,
 * jco's glue for components the loader does not plan itself) is not
 * installed. `install` is the exact command that adds what is missing.
 */
export class MissingDependencyError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_MISSING_DEPENDENCY' as const;
  /** The missing packages, as npm names them. */
  readonly packages: string[];
  /** The command that installs them, e.g. `npm install --save-dev esbuild@^0.28.2`. */
  readonly install: string;
  constructor(message: string, packages: string[], install: string, options?: { cause?: unknown }) {
    super(MissingDependencyError.code, message, options);
    this.packages = packages;
    this.install = install;
  }
}

/**
 * A libpam call returned a failure or could not be made. Carries the PAM
 * code's number and name and pam_strerror's text.
 */
export class PamError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_PAM' as const;
  readonly pamCode: number;
  readonly pamName: string;
  readonly pamMessage: string;
  constructor(call: string, pamCode: number, pamName: string, pamMessage: string) {
    super(PamError.code, `${call} failed: ${pamName} (${pamCode}): ${pamMessage}`);
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
  static override readonly code = 'ERR_PAMWASM_PAM_HELPER_CRASHED' as const;
  /** The signal that ended the helper, e.g. `SIGSEGV`, or null. */
  readonly signal: string | null;
  /** The helper's exit status when it exited without a signal, or null. */
  readonly exitCode: number | null;
  /** The libpam call that was running or waiting, e.g. `pam_open_session`. */
  readonly call: string;
  constructor(call: string, message: string, signal: string | null, exitCode: number | null, options?: { cause?: unknown }) {
    super(PamHelperCrashedError.code, message, options);
    this.call = call;
    this.signal = signal;
    this.exitCode = exitCode;
  }
}

/** A config dir was asked for, but the system libpam has no pam_start_confdir (Linux-PAM < 1.4.0). */
export class NoConfdirError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_NO_CONFDIR' as const;
  constructor(message: string) { super(NoConfdirError.code, message); }
}

/** The system libpam (or a required symbol in it) could not be loaded. */
export class LibpamUnavailableError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_LIBPAM_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) { super(LibpamUnavailableError.code, message, options); }
}

/** A stack file (or a file it includes at the top) cannot be read. */
export class StackNotFoundError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_STACK_NOT_FOUND' as const;
  constructor(message: string, options?: { cause?: unknown }) { super(StackNotFoundError.code, message, options); }
}

/** A module's sha256 differs from the pin in its stack line. */
export class PinMismatchError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_PIN_MISMATCH' as const;
  constructor(message: string) { super(PinMismatchError.code, message); }
}

/** Running as root, a stack file or module (or a folder above it) could be changed by someone else. */
export class UnsafePermissionsError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_UNSAFE_PERMISSIONS' as const;
  constructor(message: string) { super(UnsafePermissionsError.code, message); }
}

/** A core module uses a WebAssembly feature the sandbox cannot meter (the message names opcode and offset). */
export class UnsupportedWasmError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_UNSUPPORTED_WASM' as const;
  constructor(message: string) { super(UnsupportedWasmError.code, message); }
}

/** A module's memory starts above the memory limit of its stack line. */
export class MemoryLimitError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_MEMORY_LIMIT' as const;
  constructor(message: string) { super(MemoryLimitError.code, message); }
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
  static override readonly code = 'ERR_PAMWASM_PROTOCOL' as const;
  readonly reason: ProtocolFault;
  constructor(reason: ProtocolFault, message: string) {
    super(ProtocolError.code, message);
    this.reason = reason;
  }
}

/** A sandbox setting of a stack line (`memory=`, `timeout=`, `fault=`...) or of the host API's defaults is invalid. */
export class BadSettingError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_BAD_SETTING' as const;
  constructor(message: string) { super(BadSettingError.code, message); }
}

/** A core module declares more of an instance resource (tables, table elements, globals, memories, segment bytes, core instances) than the sandbox's caps allow, or has a function that would take too long to compile for a time limit to hold. */
export class ResourceLimitError extends PamwasmError {
  static override readonly code = 'ERR_PAMWASM_RESOURCE_LIMIT' as const;
  constructor(message: string) { super(ResourceLimitError.code, message); }
}
