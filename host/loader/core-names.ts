/**
 * What a component's core modules call their functions, from the `name`
 * custom section that the C builder keeps (wasm-ld `--strip-debug` keeps
 * it, so traps show function names). wasm-ld names the stand-ins it makes:
 * `undefined_weak:F` for a weak symbol nothing defines, and
 * `signature_mismatch:F` for a function defined with another type than its
 * callers', which traps. The C SDK's glue refers to the two hooks weakly,
 * so these names say which hook a C module lacks or got wrong.
 */
import { readFileSync } from 'node:fs';
import { COMPONENT_PREAMBLE, MODULE_PREAMBLE, sections } from './component/binary.js';
import { Reader } from '../wasm/index.js';

/** The session hooks a C module defines (security/pam_modules.h). */
export const C_HOOKS = ['pam_sm_open_session', 'pam_sm_close_session'] as const;

/** Component section id of a core module (component-model Binary.md). */
const CORE_MODULE_SECTION = 1;
/** Name-section subsection of function names (core appendix, custom sections). */
const FUNCTION_NAMES = 1;
/** The C SDK glue's export of open-session: present in every module built with the SDK. */
const C_SDK_MARK = '__pamwasm_open_session';

/** The core modules a component embeds at its top level. */
export function coreModulesOf(component: Uint8Array): Uint8Array[] {
  return sections(component, 0, component.length, COMPONENT_PREAMBLE)
    .filter((s) => s.id === CORE_MODULE_SECTION)
    .map((s) => component.subarray(s.start, s.end));
}

/** Custom section id (core binary format). */
const CUSTOM_SECTION = 0;

/**
 * The function names of a core module's name section (empty without one).
 * Read from the bytes, not by compiling: a 12 MB JS component's core
 * module would take a compile just to be looked at.
 */
export function functionNames(core: Uint8Array): Set<string> {
  const names = new Set<string>();
  for (const s of sections(core, 0, core.length, MODULE_PREAMBLE).filter((x) => x.id === CUSTOM_SECTION)) {
    const r = new Reader(core, s.start, s.end);
    if (r.name() !== 'name') continue;
    while (r.pos < r.end) {
      const id = r.u8();
      const body = r.bytes();
      if (id !== FUNCTION_NAMES) continue;
      const sub = new Reader(body);
      for (let n = sub.u32(); n > 0; n--) {
        sub.u32();
        names.add(sub.name());
      }
    }
  }
  return names;
}

export interface HookProblem {
  hook: (typeof C_HOOKS)[number];
  /** `missing`: not defined; `signature`: defined with other parameters than pam_modules.h's. */
  problem: 'missing' | 'signature';
}

/** What is wrong with a C SDK module's hooks, given its function names; [] for other modules. */
export function hookProblems(names: Set<string>): HookProblem[] {
  if (!names.has(C_SDK_MARK)) return [];
  const out: HookProblem[] = [];
  for (const hook of C_HOOKS) {
    if (names.has(`signature_mismatch:${hook}`)) out.push({ hook, problem: 'signature' });
    else if (!names.has(hook)) out.push({ hook, problem: 'missing' });
  }
  return out;
}

/**
 * The hook problems of every core module of a component; [] for bytes this
 * reader does not follow (the loader has judged them already: this only
 * adds a reason).
 */
export function componentHookProblems(component: Uint8Array): HookProblem[] {
  try {
    return coreModulesOf(component).flatMap((core) => hookProblems(functionNames(core)));
  } catch {
    return [];
  }
}

/** One clause per problem: `pam_sm_close_session is not defined`, ... */
export function describeHookProblems(problems: HookProblem[]): string {
  return problems.map((p) => p.problem === 'missing'
    ? `${p.hook} is not defined`
    : `${p.hook} does not have pam_modules.h's parameters (pam_handle_t *pamh, int flags, int argc, const char **argv)`).join(', and ');
}

/**
 * The hook problems of the component in `path`, said as one phrase ('' for
 * none, or a file that cannot be read now): why a line that loaded it
 * returned PAM_MODULE_UNKNOWN.
 */
export function missingHooksOfFile(path: string): string {
  try {
    return describeHookProblems(componentHookProblems(new Uint8Array(readFileSync(path))));
  } catch {
    return '';
  }
}
