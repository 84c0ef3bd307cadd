/**
 * `pamwasm demo`: the main job on embedded defaults. Opens and closes a real
 * session through the system libpam (a temp confdir whose stack runs pam_env
 * and pam_exec) with a stack of bundled WASM modules inside it, and shows
 * what happened.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildJsModules } from '../build/js.js';
import { PAM } from '../codes/index.js';
import { createHost } from '../sessions/index.js';
import { BUNDLED_MODULE_DIR, type TraceEntry } from '../stack/index.js';
import { bold, codeName, dim, messageTag, table } from './output.js';

export const DEMO_HELP = `Usage: pamwasm demo [--user NAME] [--keep] [--json]

Opens and closes a real PAM session: the system libpam runs a stack of
pam_env and pam_exec from a temporary config dir, and pamwasm runs a stack of
bundled WASM modules (pam_permit, pam_echo, pam_setenv, pam_debug, pam_deny,
pam_warn) inside it. Shows both stacks' results, the WASM trace, the
messages the user would see and the PAM environment the session gets.
pam_setenv is a JS module: the first run builds it (about 15 s).

Options:
  --user NAME  the session's user (default: you)
  --keep       keep the temporary config, stack and registry and print where
  --json       print one JSON object instead`;

const SYSTEM_STACK = (dir: string) => `# The system part: real Linux-PAM modules.
session required pam_env.so readenv=0 conffile=${dir}/pam_env.conf
session optional pam_exec.so stdout ${dir}/hello.sh
`;

const WASM_STACK = `# The WASM part: bundled modules, sandboxed.
session required  pam_permit.wasm
session optional  pam_echo.wasm [Welcome %u: service %s on %t]
session required  [pam_setenv.wasm timeout=2s] DEMO_SHELL_GREETING=hi-%u
session [success=1 default=ignore] pam_debug.wasm open_session=success close_session=success
session required  pam_deny.wasm
session optional  pam_warn.wasm
`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { user: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const say = (s: string) => !values.json && console.log(s);
  if (!existsSync(join(BUNDLED_MODULE_DIR, 'pam_setenv.wasm'))) {
    process.stderr.write('building pam_setenv.wasm (JS, once; cached afterwards)\n');
    await buildJsModules(BUNDLED_MODULE_DIR, { onProgress: (m) => process.stderr.write(`  ${m}\n`) });
  }
  const dir = mkdtempSync(join(tmpdir(), 'pamwasm-demo-'));
  const user = values.user ?? userInfo().username;
  try {
    writeFileSync(join(dir, 'pam_env.conf'), 'DEMO_GREETING DEFAULT="hello from pam_env"\n');
    writeFileSync(join(dir, 'hello.sh'), '#!/bin/sh\necho "pam_exec: $PAM_TYPE for $PAM_USER on $PAM_TTY"\n');
    chmodSync(join(dir, 'hello.sh'), 0o755);
    writeFileSync(join(dir, 'pamwasm-demo'), SYSTEM_STACK(dir));
    writeFileSync(join(dir, 'demo.stack'), WASM_STACK);

    const host = await createHost({ registry: join(dir, 'registry.db'), system: { service: 'pamwasm-demo', confdir: dir }, strictPermissions: false });
    say(bold(`Opening a session for ${user} on pts/demo (service pamwasm-demo)`));
    const s = await host.openSession({ stack: join(dir, 'demo.stack'), service: 'pamwasm-demo', user, tty: 'pts/demo', rhost: 'demo.example' });
    const envAfterOpen = await s.getenvlist();
    const shownAtOpen = [...s.messages];
    const closed = s.opened ? await s.close() : undefined;
    const records = host.sessions();
    await host.shutdown();

    if (values.json) {
      console.log(JSON.stringify({
        open: { code: s.code, name: s.name, system: s.system, wasm: s.wasm },
        close: closed && { code: closed.code, name: closed.name, system: closed.system, wasm: closed.wasm },
        messages: [...shownAtOpen, ...(closed?.messages ?? [])], env: envAfterOpen, trace: [...s.trace, ...(closed?.trace ?? [])],
        registry: records.map((r) => ({ id: r.id, state: r.state, closedBy: r.closedBy })),
      }));
    } else {
      say(`  system stack (libpam: pam_env, pam_exec): ${codeName(s.system?.name, s.system?.code)}`);
      say(`  WASM stack (pamwasm):                     ${codeName(s.wasm?.name ?? '(not run)', s.wasm?.code)}`);
      say('');
      say(traceTable(s.trace));
      say('');
      say(bold('What the user saw'));
      for (const m of shownAtOpen) say(`  ${messageTag(m)} ${m.text}`);
      say('');
      say(bold('PAM environment (pam_getenvlist on the real handle)'));
      for (const e of envAfterOpen) say(`  ${e}`);
      if (closed) {
        say('');
        say(bold('Closing the session'));
        say(traceTable(closed.trace));
        for (const m of closed.messages) say(`  ${messageTag(m)} ${m.text}`);
        say(`  close: system ${codeName(closed.system?.name, closed.system?.code)}, WASM ${codeName(closed.wasm.name, closed.wasm.code)}`);
      }
      say('');
      say(dim(`registry: ${records.map((r) => `${r.id.slice(0, 8)} ${r.state}${r.closedBy ? ` by ${r.closedBy}` : ''}`).join(', ')}`));
      if (values.keep) say(dim(`kept: ${dir}`));
    }
    return s.opened && closed?.code === PAM.SUCCESS.number ? 0 : 1;
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function traceTable(trace: TraceEntry[]): string {
  const rows = [['line', 'control', 'module', 'returned', 'action', 'stack status'].map((h) => bold(h))];
  for (const t of trace) {
    rows.push([`${t.hook} ${t.line}`, t.control, t.module, codeName(t.name, t.code), t.action, `${t.statusName}${t.reason ? dim(`  ${t.reason}`) : ''}`]);
  }
  return table(rows).split('\n').map((l) => `  ${l}`).join('\n');
}
