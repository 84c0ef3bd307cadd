/**
 * The `pamwasm` command line. Exit status: 0 ok, 1 a PAM failure, 2 a usage
 * or config error (one sentence on stderr, no stack trace; with --json, also
 * `{"error":{"code","message"}}` on stdout).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_HELP, benchCommand } from '../bench/index.js';
import { PamwasmError } from '../errors/index.js';
import { didYouMean } from '../errors/suggest.js';
import { packageRoot } from '../wit/index.js';
import { BUILD_HELP, buildCommand } from './build.js';
import { CHECK_HELP, checkCommand } from './check.js';
import { DAEMON_HELP, daemonCommand } from './daemon.js';
import { DEMO_HELP, demoCommand } from './demo.js';
import { EXEC_HELP, execMain } from './exec.js';
import { EXPLAIN_HELP, explainCommand } from './explain.js';
import { INSPECT_HELP, inspectCommand } from './inspect.js';
import { INSTALL_HELP, installCommand, uninstallCommand } from './install.js';
import { NEW_HELP, newCommand } from './new.js';
import { PLAYGROUND_HELP, playgroundCommand } from './playground.js';
import { RUN_HELP, runCommand } from './run.js';
import { RECOVER_HELP, recoverCommand, SESSIONS_HELP, sessionsCommand } from './sessions.js';
import { errorSentence } from './usage.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string; help: string }> = {
  demo: { run: demoCommand, help: DEMO_HELP, summary: 'open and close a real session through libpam and bundled modules' },
  run: { run: runCommand, help: RUN_HELP, summary: 'run a stack\'s session hooks for a user' },
  check: { run: checkCommand, help: CHECK_HELP, summary: 'lint stack files: syntax, modules, pins, permissions' },
  inspect: { run: inspectCommand, help: INSPECT_HELP, summary: 'check a module and show its world, imports, hash and the grants it needs' },
  new: { run: newCommand, help: NEW_HELP, summary: 'write a new C or TS module folder: source, README, stack and test' },
  build: { run: buildCommand, help: BUILD_HELP, summary: 'build a C or JS/TS guest module folder into a component' },
  // exec maps its own errors to exit statuses pam_exec can log (see EXEC_HELP).
  exec: { run: (argv) => execMain(argv), help: EXEC_HELP, summary: 'run a stack for pam_exec.so (open_session / close_session)' },
  sessions: { run: sessionsCommand, help: SESSIONS_HELP, summary: 'list the sessions in the registry' },
  recover: { run: recoverCommand, help: RECOVER_HELP, summary: 'close, exactly once, every session whose owner is gone' },
  daemon: { run: daemonCommand, help: DAEMON_HELP, summary: 'serve pam_wasm.so: run session stacks for sshd, login, su (see docs/daemon.md)' },
  install: { run: installCommand, help: INSTALL_HELP, summary: 'install pam_wasm.so, the systemd units, /etc/pamwasm and the pamwasm user' },
  uninstall: { run: uninstallCommand, help: INSTALL_HELP, summary: 'remove what `pamwasm install` laid down' },
  explain: { run: explainCommand, help: EXPLAIN_HELP, summary: 'print a stack\'s flow: where each code goes from each line, and every outcome' },
  playground: { run: playgroundCommand, help: PLAYGROUND_HELP, summary: 'see, edit, run and compare a stack in a local web page' },
  bench: { run: benchCommand, help: BENCH_HELP, summary: 'measure sessions, loads and memory against native libpam (--json, --markdown, --quick)' },
};

/** Own names only: `pamwasm constructor` is an unknown command, not Object's. */
const commandNamed = (name: string) => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined);

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `Usage: pamwasm <command> [options]

Runs PAM session modules as sandboxed WebAssembly components.

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`pamwasm help <command>\` or \`pamwasm <command> --help\` for a command's options, \`pamwasm --version\` for the version.`;
}

/** This package's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const about = name === 'help' ? commandNamed(rest[0] ?? '') : undefined;
    if (name === 'help' && rest.length && !about) return unknownCommand(rest[0]);
    console.log(about ? about.help : mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    console.log(packageVersion());
    return 0;
  }
  const command = commandNamed(name);
  if (!command) return unknownCommand(name);
  try {
    return await command.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof PamwasmError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      const message = errorSentence(err, command.help);
      // The sentence goes to stderr as always; a --json caller gets it as JSON too.
      if (rest.includes('--json')) console.log(JSON.stringify({ error: { code: err.code, message } }));
      process.stderr.write(`pamwasm ${name}: ${message}\n`);
      return 2;
    }
    throw e;
  }
}

function unknownCommand(name: string): number {
  process.stderr.write(`pamwasm: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}; run \`pamwasm --help\` for the list.\n`);
  return 2;
}
