/**
 * `pamwasm run`: runs a stack's session hooks for one user, the way an
 * application's pam_open_session / pam_close_session would, and prints the
 * trace (or, with --json, one JSON object as the last line of stdout).
 */
import { parseArgs } from 'node:util';
import type { WitItem } from '../runtime/index.js';
import { parseWhatIfs } from '../playground/what-if.js';
import { parseStackFile, runStack, scriptedConversation, type PromptRecord, type RunOptions, type RunResult } from '../stack/index.js';
import { bold, codeName, dim, messageTag, table } from './output.js';
import { checkSystemService, runWithSystem, type SystemRunOptions, type SystemRunResult } from './run-system.js';
import { terminalAnswerer } from './terminal.js';
import { usage } from './usage.js';
import { createEngine } from '../engine/index.js';

export const RUN_HELP = `Usage: pamwasm run --stack FILE --service S --user U [options]

Runs the session hooks of a stack file (pam.d syntax, .wasm modules).

Options:
  --stack FILE        the stack file (required)
  --service S         PAM_SERVICE (required)
  --user U            PAM_USER (required)
  --tty T             PAM_TTY
  --rhost H           PAM_RHOST
  --ruser R           PAM_RUSER
  --silent            pass PAM_SILENT to the modules
  --module-dir DIR    where relative module paths are found (default: the bundled modules)
  --phase P           open, close or both (default: both)
  --system-service S  run the WASM stack inside a real PAM session of service S: libpam runs S's
                      session stack (pam_open_session) before the WASM stack's open and
                      (pam_close_session) after its close, on one handle; the JSON gains
                      "system": {"open", "close"} with the system stack's codes, and "open",
                      "close" and "env" are what the application gets (env: pam_getenvlist)
  --system-confdir D  read S from the folder D instead of /etc/pam.d (pam_start_confdir)
  --answer TEXT       answer the modules' prompts, in order (repeat it for each prompt); a
                      prompt past the last answer gets none (the module sees conv-err)
  --interactive       answer prompts on the terminal: the prompt is shown on stderr and a
                      line read from stdin (echo off for echo-off prompts); answers may be
                      piped in, one a line
  --what-if L=CODE    line L of the stack (or FILE:L, a line of an included file) returns CODE
                      without running its module; L=OPEN,CLOSE for other codes at close, -
                      to run the module at that hook (repeat it for other lines)
  --json              print one JSON object as the last line of stdout (with "prompts":
                      each prompt's style, text and answer)

Malformed lines are reported on stderr as file:line and dispatched as libpam
would (they fail). Exit status: 0 when every hook run returned PAM_SUCCESS,
1 when one returned a PAM failure, 2 on a usage or file error.`;

const itemOptions: [string, WitItem][] = [['service', 'service'], ['user', 'user'], ['tty', 'tty'], ['rhost', 'rhost'], ['ruser', 'ruser']];

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: 'string' }, service: { type: 'string' }, user: { type: 'string' },
      tty: { type: 'string' }, rhost: { type: 'string' }, ruser: { type: 'string' },
      silent: { type: 'boolean' }, 'module-dir': { type: 'string' }, phase: { type: 'string' },
      'system-service': { type: 'string' }, 'system-confdir': { type: 'string' },
      answer: { type: 'string', multiple: true }, interactive: { type: 'boolean' }, 'what-if': { type: 'string', multiple: true },
      json: { type: 'boolean' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  for (const required of ['stack', 'service', 'user'] as const) {
    if (!values[required]) throw usage(`run needs --${required}`, 'run');
  }
  const phase = values.phase ?? 'both';
  if (!['open', 'close', 'both'].includes(phase)) throw usage(`--phase must be open, close or both, not "${phase}"`, 'run');

  const items = Object.fromEntries(
    itemOptions.filter(([o]) => values[o as keyof typeof values] !== undefined).map(([o, i]) => [i, String(values[o as keyof typeof values])]),
  );
  if (values['system-confdir'] && !values['system-service']) throw usage('--system-confdir needs --system-service', 'run');
  if (values['system-service'] && phase !== 'both') {
    throw usage('--phase must be both with --system-service: a system session that run opens, run also closes', 'run');
  }
  if (values['system-service']) checkSystemService(values['system-service'], values['system-confdir']);
  if (values.interactive && values.answer) throw usage('give either --answer or --interactive, not both', 'run');
  if ((values.interactive || values.answer) && values['system-service']) {
    throw usage('--answer and --interactive answer the WASM stack run on its own, not with --system-service', 'run');
  }
  if (values['what-if'] && values['system-service']) throw usage('--what-if runs the WASM stack on its own, not with --system-service', 'run');
  const engine = createEngine();
  const whatIf = values['what-if'] && parseWhatIfs(values['what-if'], parseStackFile(values.stack!, { engine }));
  const { conversation, prompts } = scriptedConversation(values.interactive ? terminalAnswerer() : values.answer ?? []);
  const run: RunResult & { system?: SystemRunResult['system'] } = values['system-service']
    ? await runWithSystem({
      stackFile: values.stack!, items: items as SystemRunOptions['items'], silent: values.silent, moduleDir: values['module-dir'],
      service: values['system-service'], confdir: values['system-confdir'], engine,
    })
    : await runStack({
      stackFile: values.stack!, items, silent: values.silent, moduleDir: values['module-dir'], phase: phase as RunOptions['phase'],
      conversation, engine, ...(whatIf ? { whatIf } : {}),
    });
  const result = { ...run, prompts };
  for (const d of result.diagnostics) process.stderr.write(`${d.file}:${d.line}: ${d.severity}: ${d.message}\n`);
  if (values.json) {
    const { ok: _ok, open, close, prompts: asked, ...rest } = result;
    // An echo-off answer (a password) is never printed, as a terminal does not echo it.
    const shown = asked.map(({ style, text, answer }) => ({ style, text, answered: answer !== undefined, ...(style === 'echo-on' && answer !== undefined ? { answer } : {}) }));
    console.log(JSON.stringify({ open, close, ...rest, prompts: shown }));
  } else {
    printHuman(result);
  }
  return result.ok ? 0 : 1;
}

function printHuman({ open, close, messages, prompts, trace, syslog, env, system }: RunResult & { prompts: PromptRecord[]; system?: SystemRunResult['system'] }) {
  if (trace.length) {
    const rows = [['hook', 'line', 'control', 'module', 'returned', 'action', 'stack status'].map((h) => bold(h))];
    for (const t of trace) {
      rows.push([
        t.hook, `${t.file.split('/').pop()}:${t.line}`, t.control, t.module,
        codeName(t.name, t.code), t.action, `${t.statusName} (${t.impression})${t.reason ? dim(`  ${t.reason}`) : ''}`,
      ]);
    }
    console.log(table(rows));
    console.log();
  }
  for (const m of messages) console.log(`${messageTag(m)}  ${m.text}`);
  for (const p of prompts) {
    const shown = p.answer === undefined ? dim('no answer: give --answer TEXT or --interactive') : p.style === 'echo-off' ? '(answered, not shown)' : p.answer;
    console.log(`prompt ${p.style === 'echo-off' ? '(echo off) ' : ''}${JSON.stringify(p.text)}  ${shown}`);
  }
  for (const l of syslog) console.log(dim(`syslog ${l.priority}: ${l.module}: ${l.message.trimEnd()}`));
  const vars = Object.entries(env);
  if (vars.length) console.log(`PAM env: ${vars.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const [hook, r] of Object.entries({ open, close }).filter(([, r]) => r) as [string, { code: number; name: string }][]) {
    const sys = system?.[hook as 'open' | 'close'];
    console.log(`${hook}-session: ${codeName(r.name, r.code)} (${r.code})${sys ? dim(`  system stack: ${sys.name}`) : ''}`);
  }
}
