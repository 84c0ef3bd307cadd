/**
 * Host side of wasi:cli 0.2 for a session module: nothing from the host
 * process leaks in. The environment and the arguments are empty (a module's
 * arguments come from its stack line, through the session hooks), there is
 * no working directory, stdin is at its end, no stream is a terminal,
 * stdout and stderr keep at most `outputLimit` bytes in all for the caller's
 * `onOutput` (by default nothing is kept), and `exit` traps: a session module
 * cannot end the host process, and a trap fails closed.
 */
import { EMPTY_SOURCE, InputStream, OutputStream, type ByteSink } from './io.js';

export type OutputName = 'stdout' | 'stderr';
export type OnOutput = (stream: OutputName, bytes: Uint8Array) => void;

/** wasi:cli/terminal-input `terminal-input`; never handed out (no stream is a terminal). */
export class TerminalInput {}
/** wasi:cli/terminal-output `terminal-output`; never handed out. */
export class TerminalOutput {}

/** A sink that forwards until `limit` bytes have gone through, then drops the rest. */
function cappedSinks(limit: number, onOutput?: OnOutput): Record<OutputName, ByteSink> {
  let left = onOutput ? limit : 0;
  const sink = (name: OutputName): ByteSink => ({
    write(bytes) {
      if (left <= 0 || bytes.length === 0) return;
      const kept = bytes.length > left ? bytes.subarray(0, left) : bytes;
      left -= kept.length;
      onOutput!(name, kept);
    },
  });
  return { stdout: sink('stdout'), stderr: sink('stderr') };
}

export function cliImports(outputLimit: number, onOutput?: OnOutput) {
  const sinks = cappedSinks(outputLimit, onOutput);
  const noTerminal = () => undefined;
  return {
    'wasi:cli/environment': {
      getEnvironment: (): [string, string][] => [],
      getArguments: (): string[] => [],
      initialCwd: (): string | undefined => undefined,
    },
    'wasi:cli/exit': {
      exit(status: { tag: 'ok' | 'err' }): never {
        // A trap (RuntimeError), so jco's glue also marks the instance dead.
        throw new WebAssembly.RuntimeError(
          `the module called exit(${status?.tag === 'ok' ? 0 : 1}); a session module returns a status instead`,
        );
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream(EMPTY_SOURCE) },
    'wasi:cli/stdout': { getStdout: () => new OutputStream(sinks.stdout) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(sinks.stderr) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: noTerminal },
    'wasi:cli/terminal-stdout': { getTerminalStdout: noTerminal },
    'wasi:cli/terminal-stderr': { getTerminalStderr: noTerminal },
  };
}
