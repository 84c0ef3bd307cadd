/**
 * The playground page's API: each call takes the editor's current text,
 * parses it as the opened file would be parsed (includes read beside it),
 * and answers with the flow, a run, a comparison with libpam, the
 * all-outcomes table, or a save. Requests are JSON; anything malformed is a
 * UsageError (400 with its code).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { codeByToken, PAM_CODES } from '../codes/index.js';
import { StackNotFoundError, UsageError } from '../errors/index.js';
import type { WitItem } from '../runtime/index.js';
import { checkHandlers } from '../cli/check.js';
import { parseStackText, type Stack } from '../stack/parse.js';
import type { WhatIf } from '../stack/session.js';
import type { LibpamComparer } from './compare.js';
import { flowModel, isNativeModule } from './model.js';
import { allOutcomes, DEFAULT_OUTCOME_CODES, parseCodes } from './outcomes.js';
import { playgroundRun } from './run.js';
import { createEngine } from '../engine/index.js';

const ITEMS: readonly WitItem[] = ['service', 'user', 'tty', 'rhost', 'ruser'];
const MAX_TEXT = 256 * 1024;

/** A stack of other people's modules (a pam.d file): never saved from the page. */
const isSystemFile = (path: string) => path.startsWith('/etc/');

export interface ApiOptions {
  file?: string;
  moduleDir?: string;
  comparer: LibpamComparer;
  save: (path: string, text: string) => void;
}

type Body = Record<string, unknown>;

export class PlaygroundApi {
  private readonly file: string;
  private readonly opened: boolean;
  private readonly initial: string;
  /** What the server's runs and checks share: modules loaded once for every edit of the stack. */
  private readonly engine = createEngine();

  constructor(private readonly o: ApiOptions) {
    this.opened = o.file !== undefined;
    this.file = resolve(o.file ?? join(process.cwd(), 'playground.stack'));
    if (o.file === undefined) {
      this.initial = 'session required pam_permit.wasm\nsession optional pam_echo.wasm [Hello %u on %t]\n';
      return;
    }
    try {
      this.initial = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new StackNotFoundError(`stack file ${this.file} cannot be read (${(e as NodeJS.ErrnoException).code}).`, { cause: e });
    }
  }

  async call(name: string, body: unknown): Promise<unknown> {
    if (!body || typeof body !== 'object') throw new UsageError('the request must be a JSON object.');
    const b = body as Body;
    switch (name) {
      case 'state': return this.state();
      case 'model': return this.model(this.stackOf(b));
      case 'run': {
        const stack = this.stackOf(b);
        const phase = b.phase ?? 'both';
        if (phase !== 'open' && phase !== 'close' && phase !== 'both') throw new UsageError('phase must be open, close or both.');
        return playgroundRun({ stack, items: itemsOf(b), silent: b.silent === true, phase, whatIf: whatIfOf(b, stack), moduleDir: this.o.moduleDir, engine: this.engine });
      }
      case 'compare': {
        const stack = this.stackOf(b);
        return this.o.comparer.compare(stack, String(b.text), { items: itemsOf(b), silent: b.silent === true, whatIf: whatIfOf(b, stack), moduleDir: this.o.moduleDir });
      }
      case 'outcomes': {
        const codes = Array.isArray(b.codes) ? parseCodes(b.codes.map(String)) : [...DEFAULT_OUTCOME_CODES];
        return allOutcomes(this.stackOf(b), codes);
      }
      case 'save': return this.save(b);
      default: throw new UsageError(`no API call named "${name}".`);
    }
  }

  private readOnly(stack?: Stack): boolean {
    return !this.opened || isSystemFile(this.file) || Boolean(stack?.handlers.some((h) => h.kind === 'module' && isNativeModule(h.module)));
  }

  private state() {
    const stack = parseStackText(this.initial, { file: this.file, strictPermissions: false });
    return {
      file: this.file, text: this.initial, saveable: !this.readOnly(stack), editable: !isSystemFile(this.file),
      codes: PAM_CODES.map((c) => c.token), outcomeCodes: DEFAULT_OUTCOME_CODES,
    };
  }

  private stackOf(b: Body): Stack {
    if (typeof b.text !== 'string') throw new UsageError('the request needs the stack text.');
    if (b.text.length > MAX_TEXT) throw new UsageError('the stack text is longer than 256 KiB.');
    if (isSystemFile(this.file) && b.text !== this.initial) throw new UsageError(`${this.file} is opened read-only.`);
    return parseStackText(b.text, { file: this.file, strictPermissions: false });
  }

  private async model(stack: Stack) {
    // check's findings for the components; a native line has nothing to check here.
    const components = stack.handlers.filter((h) => !isNativeModule(h.module));
    return flowModel(stack, await checkHandlers(components, this.o.moduleDir, this.engine));
  }

  private save(b: Body) {
    const stack = this.stackOf(b);
    if (this.readOnly(stack)) throw new UsageError(`${this.opened ? this.file : 'this stack'} cannot be saved from the playground: ${this.opened ? 'it names native modules or is a system file' : 'no file was opened'}.`);
    this.o.save(this.file, String(b.text));
    return { saved: this.file };
  }
}

function itemsOf(b: Body): Partial<Record<WitItem, string>> {
  const given = (b.items ?? {}) as Record<string, unknown>;
  const out: Partial<Record<WitItem, string>> = {};
  for (const k of ITEMS) if (typeof given[k] === 'string' && given[k] !== '') out[k] = given[k] as string;
  return out;
}

/** `{"3": {"open": "session_err", "close": "success"}}` by handler index. */
function whatIfOf(b: Body, stack: Stack): Map<number, WhatIf> {
  const out = new Map<number, WhatIf>();
  for (const [k, v] of Object.entries((b.whatIf ?? {}) as Record<string, { open?: string; close?: string }>)) {
    const index = Number(k);
    if (!Number.isInteger(index) || stack.handlers[index]?.kind !== 'module') throw new UsageError(`what-if for line ${k}, which is not a module line.`);
    const code = (t?: string) => (t ? codeByToken(parseCodes([t])[0])!.number : undefined);
    const w = { open: code(v?.open), close: code(v?.close) };
    if (w.open !== undefined || w.close !== undefined) out.set(index, w);
  }
  return out;
}
