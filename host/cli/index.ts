/**
 * The `pamwasm` command line. Exit status: 0 ok, 1 a PAM failure, 2 a usage
 * or config error (one sentence on stderr, no stack trace).
 */
import { benchCommand } from '../bench/index.js';
import { PamwasmError } from '../errors/index.js';
import { buildCommand } from './build.js';
import { checkCommand } from './check.js';
import { daemonCommand } from './daemon.js';
import { demoCommand } from './demo.js';
import { execMain } from './exec.js';
import { inspectCommand } from './inspect.js';
import { installCommand, uninstallCommand } from './install.js';
import { runCommand } from './run.js';
import { recoverCommand, sessionsCommand } from './sessions.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  demo: { run: demoCommand, summary: 'open and close a real session through libpam and bundled modules' },
  run: { run: runCommand, summary: 'run a stack\'s session hooks for a user' },
  check: { run: checkCommand, summary: 'lint stack files: syntax, modules, pins, permissions' },
  inspect: { run: inspectCommand, summary: 'check a module and show its world, imports and hash' },
  build: { run: buildCommand, summary: 'build a C or JS/TS guest module folder into a component' },
  // exec maps its own errors to exit statuses pam_exec can log (see EXEC_HELP).
  exec: { run: (argv) => execMain(argv), summary: 'run a stack for pam_exec.so (open_session / close_session)' },
  sessions: { run: sessionsCommand, summary: 'list the sessions in the registry' },
  recover: { run: recoverCommand, summary: 'close, exactly once, every session whose owner is gone' },
  daemon: { run: daemonCommand, summary: 'serve pam_wasm.so: run session stacks for sshd, login, su (see docs/daemon.md)' },
  install: { run: installCommand, summary: 'install pam_wasm.so, the systemd units, /etc/pamwasm and the pamwasm user' },
  uninstall: { run: uninstallCommand, summary: 'remove what `pamwasm install` laid down' },
  bench: { run: benchCommand, summary: 'measure sessions, loads and memory against native libpam (--json, --quick)' },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `Usage: pamwasm <command> [options]

Runs PAM session modules as sandboxed WebAssembly components.

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`pamwasm <command> --help\` for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`pamwasm: unknown command "${name}"; run \`pamwasm --help\` for the list.\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof PamwasmError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`pamwasm ${name}: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
