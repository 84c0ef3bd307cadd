/**
 * The playground page: the editor, the inputs and what-ifs, the flow, runs,
 * the libpam comparison and the all-outcomes table. Every answer comes from
 * the server (the real engine); the page only asks and shows. API calls are
 * relative to the page's URL, which carries the token.
 */
import type { Comparison } from '../compare.js';
import type { FlowModel } from '../model.js';
import type { OutcomeTable } from '../outcomes.js';
import type { PlaygroundRun, PlaygroundStep } from '../run.js';
import { renderFlow, type NodeMark } from './flow.js';

interface State { file: string; text: string; saveable: boolean; editable: boolean; codes: string[]; outcomeCodes: string[] }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const editor = $<HTMLTextAreaElement>('editor');
const status = $('status');
let codes: string[] = [];
let model: FlowModel | undefined;
let lastRun: PlaygroundRun | undefined;
/** What-ifs by `file:line`, so that they stay on their line while the text above changes. */
const whatIfs = new Map<string, { open: string; close: string }>();

async function api<T>(name: string, body: object = {}): Promise<T> {
  const res = await fetch(`api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
  return json as T;
}

function say(text: string, error = false) {
  status.textContent = text;
  status.className = error ? 'error' : '';
}

function h<K extends keyof HTMLElementTagNameMap>(name: K, props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(name);
  const { dataset, ...rest } = props;
  Object.assign(e, rest);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...kids);
  return e;
}

const base = (f: string) => f.split('/').pop() ?? f;
const key = (file: string, line: number) => `${file}:${line}`;

function items() {
  const form = $<HTMLFormElement>('items');
  const data = new FormData(form);
  const out: Record<string, string> = {};
  for (const k of ['service', 'user', 'tty', 'rhost', 'ruser']) out[k] = String(data.get(k) ?? '');
  return { items: out, silent: data.get('silent') === 'on' };
}

/** The what-ifs of the current model, by handler index. */
function whatIfBody(): Record<string, { open?: string; close?: string }> {
  const out: Record<string, { open?: string; close?: string }> = {};
  for (const n of model?.nodes ?? []) {
    const w = whatIfs.get(key(n.file, n.line));
    if (n.kind === 'module' && w && (w.open || w.close)) out[n.index] = { open: w.open || undefined, close: w.close || undefined };
  }
  return out;
}

function marksOf(run?: PlaygroundRun): Map<number, NodeMark[]> {
  const marks = new Map<number, NodeMark[]>();
  for (const s of run?.steps ?? []) {
    const list = marks.get(s.index) ?? [];
    list.push({ hook: s.hook, text: `${s.hook}: ${s.name}${s.whatIf ? ' (what-if)' : ''} → ${s.action}` });
    list.push({ hook: s.hook, text: `  then the stack: ${s.statusName}, ${s.impression}` });
    marks.set(s.index, list);
  }
  return marks;
}

function drawFlow() {
  if (!model) return;
  const ending = lastRun ? [['open', lastRun.open], ['close', lastRun.close]].flatMap(([hook, r]) => (r ? [`${hook}: ${(r as { name: string }).name}`] : [])) : [];
  renderFlow($('flow'), model, marksOf(lastRun), ending, {
    focus: (index) => {
      const n = model!.nodes[index];
      say(`line ${base(n.file)}:${n.line}: ${n.control} ${n.module ?? ''}`);
    },
    // Enter on a line goes to its what-if.
    activate: (index) => document.querySelector<HTMLSelectElement>(`select.what-if[data-index="${index}"][data-hook="open"]`)?.focus(),
  });
}

function drawDiagnostics() {
  const list = $('diagnostics');
  const all = [...(model?.fatal ? [model.fatal] : []), ...(model?.diagnostics ?? []), ...(model?.nodes ?? []).flatMap((n) => n.diagnostics)];
  const item = (d: (typeof all)[number]) => h('li', { className: d.severity, dataset: { line: String(d.line), file: d.file } },
    `${base(d.file)}:${d.line}: ${d.severity}: ${d.message}`);
  list.replaceChildren(...all.filter((d) => d.severity === 'error').map(item));
  // Warnings (unpinned modules, mostly) are listed folded: errors stay in sight.
  const warnings = all.filter((d) => d.severity !== 'error');
  $('warnings').replaceChildren(...warnings.map(item));
  $('warnings-count').textContent = `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`;
}

function codeSelect(n: FlowModel['nodes'][number], hook: 'open' | 'close'): HTMLSelectElement {
  const k = key(n.file, n.line);
  const current = whatIfs.get(k) ?? { open: n.native ? 'success' : '', close: n.native ? 'success' : '' };
  if (n.native && !whatIfs.has(k)) whatIfs.set(k, current);
  const sel = h('select', { className: 'what-if', dataset: { index: String(n.index), hook, line: String(n.line) } });
  sel.setAttribute('aria-label', `what if ${base(n.file)}:${n.line} at ${hook}`);
  if (!n.native) sel.append(h('option', { value: '' }, 'run module'));
  for (const c of codes) sel.append(h('option', { value: c }, c));
  sel.value = current[hook];
  sel.addEventListener('change', () => {
    const w = whatIfs.get(k) ?? { open: '', close: '' };
    w[hook] = sel.value;
    whatIfs.set(k, w);
  });
  return sel;
}

function drawWhatIfs() {
  const rows = (model?.nodes ?? []).filter((n) => n.kind === 'module').map((n) =>
    h('tr', {}, h('td', { className: 'mono' }, `${base(n.file)}:${n.line} ${n.module ?? ''}`), h('td', {}, codeSelect(n, 'open')), h('td', {}, codeSelect(n, 'close'))));
  $('what-ifs').querySelector('tbody')!.replaceChildren(...rows);
}

async function refresh() {
  try {
    model = await api<FlowModel>('model', { text: editor.value });
    lastRun = undefined;
    drawFlow();
    drawDiagnostics();
    drawWhatIfs();
    say(`${model.nodes.length} session line${model.nodes.length === 1 ? '' : 's'}${model.otherTypes ? `, ${model.otherTypes} lines of other types not drawn` : ''}`);
    // Counts the flows drawn, so that a script driving the page can wait for the next one.
    document.body.dataset.flows = String(Number(document.body.dataset.flows ?? 0) + 1);
  } catch (e) {
    say((e as Error).message, true);
  }
}

function effectsCell(s: PlaygroundStep): HTMLElement {
  const items: string[] = [];
  for (const m of s.effects.messages) items.push(`${m.style}: ${m.text}`);
  for (const e of s.effects.env) items.push(e.value === null ? `env: unset ${e.name}` : `env: ${e.name}=${e.value}`);
  for (const d of s.effects.data) items.push(`data: ${d.key} (${d.bytes} bytes)`);
  for (const l of s.effects.syslog) items.push(`syslog ${l.priority}: ${l.message}`);
  if (s.reason) items.push(s.reason);
  return h('td', {}, h('ul', { className: 'effects' }, ...items.map((t) => h('li', {}, t))));
}

const codeCell = (name: string) => h('td', { className: `mono ${name === 'PAM_SUCCESS' ? 'code-ok' : 'code-bad'}` }, name);

function drawRun(run: PlaygroundRun) {
  $('steps').querySelector('tbody')!.replaceChildren(...run.steps.map((s) => h('tr', { dataset: { index: String(s.index) } },
    h('td', {}, s.hook), h('td', { className: 'mono' }, `${base(s.file)}:${s.line}`), h('td', { className: 'mono' }, `${s.module}${s.whatIf ? ' (what-if)' : ''}`),
    codeCell(s.name), h('td', {}, s.action), h('td', {}, s.impression), codeCell(s.statusName), effectsCell(s))));
  const parts = [run.open && `open-session: ${run.open.name}`, run.close && `close-session: ${run.close.name}`].filter(Boolean);
  $('result').textContent = parts.join(' · ');
  $<HTMLButtonElement>('export').disabled = false;
}

async function run(phase: 'open' | 'close' | 'both') {
  say('running…');
  try {
    lastRun = await api<PlaygroundRun>('run', { text: editor.value, ...items(), phase, whatIf: whatIfBody() });
    drawRun(lastRun);
    drawFlow();
    say(`ran ${phase === 'both' ? 'open, then close' : phase}`);
  } catch (e) {
    say((e as Error).message, true);
  }
}

async function compare() {
  const out = $('compare-result');
  out.className = '';
  delete out.dataset.comparable;
  delete out.dataset.agree;
  out.textContent = 'comparing with libpam…';
  try {
    const c = await api<Comparison>('compare', { text: editor.value, ...items(), whatIf: whatIfBody() });
    out.dataset.comparable = String(c.comparable);
    if (!c.comparable) {
      out.textContent = `Not compared: ${c.why}`;
      return;
    }
    out.dataset.agree = String(c.agree);
    out.className = c.agree ? 'agree' : 'differ';
    out.replaceChildren(
      h('p', {}, c.agree ? 'pamwasm and libpam agree.' : `First difference: ${c.difference}`),
      h('p', { className: 'mono' }, `pamwasm: open ${c.pamwasm.open}, close ${c.pamwasm.close}, ${c.pamwasm.messages.length} messages`),
      h('p', { className: 'mono' }, `libpam:  open ${c.libpam.open}, close ${c.libpam.close}, ${c.libpam.messages.length} messages`),
    );
  } catch (e) {
    out.textContent = (e as Error).message;
  }
}

async function outcomes() {
  const chosen = [...document.querySelectorAll<HTMLInputElement>('#outcome-codes input:checked')].map((i) => i.value);
  const note = $('outcomes-note');
  try {
    const t = await api<OutcomeTable>('outcomes', { text: editor.value, codes: chosen });
    note.textContent = `${t.rows.length} of ${t.combinations} combinations${t.capped ? ` (capped at ${t.rows.length})` : ''}; each line returns its code at open and at close.`;
    const head = h('tr', {}, ...t.lines.map((l) => h('th', { scope: 'col' }, `${base(l.file)}:${l.line}`)), h('th', { scope: 'col' }, 'open'), h('th', { scope: 'col' }, 'close'));
    const rows = t.rows.map((r) => h('tr', {}, ...r.results.map((x) => h('td', { className: 'mono' }, x)), codeCell(r.open), codeCell(r.close)));
    $('outcomes').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  } catch (e) {
    note.textContent = (e as Error).message;
  }
}

function exportRun() {
  if (!lastRun) return;
  const { steps: _steps, ...shape } = lastRun;
  const url = URL.createObjectURL(new Blob([JSON.stringify(shape, null, 2)], { type: 'application/json' }));
  const a = h('a', { href: url, download: 'run.json' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function save() {
  try {
    const r = await api<{ saved: string }>('save', { text: editor.value });
    say(`saved ${r.saved}`);
  } catch (e) {
    say((e as Error).message, true);
  }
}

async function start() {
  const s = await api<State>('state');
  codes = s.codes;
  $('file').textContent = s.file;
  editor.value = s.text;
  editor.readOnly = !s.editable;
  $<HTMLButtonElement>('save').disabled = !s.saveable;
  $('outcome-codes').append(...s.codes.map((c) => h('label', {}, h('input', { type: 'checkbox', value: c, checked: s.outcomeCodes.includes(c) }), ` ${c}`)));
  $('flow-legend').append(...[['ok', 'ok: on, counts as success'], ['ignore', 'ignore: on, no effect'], ['bad', 'bad: on, the stack fails'],
    ['bad', 'die: fails and ends the level'], ['ok', 'done: ends the level, unless something failed before'], ['jump', 'jump N: skips N lines'], ['reset', 'reset: forgets the state']]
    .map(([c, t]) => h('span', { className: c }, t)));
  let timer: ReturnType<typeof setTimeout> | undefined;
  editor.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  $('run-open').addEventListener('click', () => run('open'));
  $('run-close').addEventListener('click', () => run('close'));
  $('run-both').addEventListener('click', () => run('both'));
  $('compare').addEventListener('click', compare);
  $('outcomes-run').addEventListener('click', outcomes);
  $('export').addEventListener('click', exportRun);
  $('save').addEventListener('click', save);
  await refresh();
  document.body.dataset.ready = 'true';
}

start().catch((e) => say(String((e as Error).message), true));
