/**
 * `pamwasm check`: lints stack files before they decide who logs in:
 * syntax, modules that are missing or do not load, world mismatches,
 * unpinned modules and files others than root could change.
 */
import { parseArgs } from 'node:util';
import { PamwasmError, StackSyntaxError } from '../errors/index.js';
import { missingHooksOfFile } from '../loader/core-names.js';
import { loadComponent } from '../loader/index.js';
import { checkOwnerPerms, strictByDefault, wasiImports } from '../sandbox/index.js';
import { lineLoadOptions, parseStackFile, resolveModulePath, SANDBOX_DEFAULTS, type Diagnostic, type Handler } from '../stack/index.js';
import { red, dim } from './output.js';
import { usage } from './usage.js';
import { createEngine, type EngineState } from '../engine/index.js';

export const CHECK_HELP = `Usage: pamwasm check FILE... [--module-dir DIR] [--json]

Lints stack files. Each finding is printed as file:line: severity: message
(file: severity: message for the file as a whole).
Errors: syntax the dispatcher would fail on, modules that are missing, not
components, of another world or importing what their grants do not allow,
sandbox settings that run and exec would refuse (memory=, timeout=, fault=...),
pins that do not match, and (as root) files others could change.
Warnings: modules without a sha256= pin (the hash to pin is printed).
Exit status 2 when any error was found, 0 otherwise.`;

export async function checkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'module-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(CHECK_HELP);
    return 0;
  }
  if (!positionals.length) throw usage('check needs at least one stack file', 'check');
  const engine = createEngine();
  const findings = (await Promise.all(positionals.map((f) => checkStack(f, values['module-dir'], engine)))).flat();
  const errors = findings.filter((f) => f.severity === 'error').length;
  if (values.json) {
    console.log(JSON.stringify({ findings, errors, warnings: findings.length - errors }));
  } else {
    for (const f of findings) {
      const sev = f.severity === 'error' ? red('error', process.stdout) : 'warning';
      console.log(oneLine(`${where(f)}: ${sev}: ${f.message}`));
    }
    console.log(dim(`${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} warning${findings.length - errors === 1 ? '' : 's'} in ${positionals.length} file${positionals.length === 1 ? '' : 's'}`));
  }
  return errors ? 2 : 0;
}

/** `file:line`, or the file alone for a finding about the whole file (line 0). */
const where = (f: Diagnostic) => (f.line > 0 ? `${f.file}:${f.line}` : f.file);

/** One finding, one line: compiler output and the like are folded. */
const oneLine = (message: string) => message.replace(/\s*\n\s*/g, ' ');

/** Everything wrong with one stack file, in line order. */
export async function checkStack(file: string, moduleDir?: string, engine: EngineState = createEngine()): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  // Permissions are always checked here; they are errors only where they bite, as root.
  const permSeverity = strictByDefault() ? 'error' : 'warning';
  let stack;
  try {
    stack = parseStackFile(file, { strictPermissions: false, engine });
  } catch (e) {
    // A syntax error names its own file:line (an included file's, maybe): said once, in front.
    if (e instanceof StackSyntaxError) {
      return [{ file: e.file, line: e.line, severity: 'error', message: e.message.slice(`${e.file}:${e.line}: `.length) }];
    }
    if (e instanceof PamwasmError) return [{ file, line: 0, severity: 'error', message: e.message }];
    throw e;
  }
  try {
    checkOwnerPerms(file, 'stack file');
  } catch (e) {
    out.push({ file, line: 0, severity: permSeverity, message: (e as Error).message });
  }
  out.push(...stack.diagnostics, ...await checkHandlers(stack.handlers, moduleDir, engine));
  return out.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

/** What is wrong with each module line's module: loaded as a session loads it, by the host's defaults. */
export async function checkHandlers(handlers: readonly Handler[], moduleDir?: string, engine: EngineState = createEngine()): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const permSeverity = strictByDefault() ? 'error' : 'warning';
  const perm = (path: string, what: string, line: number, where: string) => {
    try {
      checkOwnerPerms(path, what);
    } catch (e) {
      out.push({ file: where, line, severity: permSeverity, message: (e as Error).message });
    }
  };
  for (const h of handlers) {
    if (h.kind !== 'module' || !h.spec) continue;
    const path = resolveModulePath(h.spec.path, moduleDir);
    const at = { file: h.file, line: h.line };
    try {
      wasiImports(h.spec.grants); // read= grants name existing directories, as a session needs
      // Loaded as a session loads it (memory cap included), by the host's defaults.
      const m = await loadComponent(path, { ...lineLoadOptions(h.spec, SANDBOX_DEFAULTS, { strictPermissions: false }), engine });
      perm(path, 'module', h.line, h.file);
      const hooks = missingHooksOfFile(path);
      if (hooks) out.push({ ...at, severity: 'error', message: `${h.spec.path}: ${hooks}, so this line would return PAM_MODULE_UNKNOWN; fix the module's source and rebuild it.` });
      if (!h.spec.sha256) {
        out.push({ ...at, severity: 'warning', message: `${h.spec.path} is not pinned: write [${h.spec.path} sha256=${m.sha256}] to refuse any other bytes.` });
      }
    } catch (e) {
      if (!(e instanceof PamwasmError)) throw e;
      out.push({ ...at, severity: h.quiet && e.code === 'ERR_PAMWASM_MODULE_NOT_FOUND' ? 'warning' : 'error', message: e.message, code: e.code });
    }
  }
  return out;
}
