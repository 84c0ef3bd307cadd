/**
 * Draws a flow model as SVG: dagre lays out the nodes (one per session
 * line, substacks as nested boxes) and the edges (where each code goes);
 * this file only measures boxes and paints them. Each node is focusable and
 * carries its file:line, so the keyboard and the tests find it.
 */
import { Graph, layout } from '@dagrejs/dagre';
import type { FlowModel, FlowNode, Target } from '../model.js';

const SVG = 'http://www.w3.org/2000/svg';
const CHAR = 7.3;
const LINE = 16;
const NODE_WIDTH = 380;
const MAX_CHARS = Math.floor((NODE_WIDTH - 16) / CHAR);

/** One lit step on a node: shown after a run. */
export interface NodeMark {
  hook: string;
  text: string;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

const cut = (s: string, n = MAX_CHARS) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const base = (file: string) => file.split('/').pop() ?? file;

/** The text lines of a node box, each with a class. */
function nodeLines(n: FlowNode, marks: readonly NodeMark[]): [string, string][] {
  const out: [string, string][] = [[`${base(n.file)}:${n.line}  ${n.control}`, 'title']];
  if (n.kind === 'must-fail') out.push(['malformed: fails as libpam fails it', 'diag']);
  if (n.module) out.push([`${n.module}${n.native ? '  (native: what-if only)' : ''}`, '']);
  if (n.args.length) out.push([n.args.join(' '), 'muted']);
  if (n.settings.length) out.push([`sandbox: ${n.settings.join(' ')}`, 'muted']);
  for (const d of n.diagnostics.filter((x) => x.severity === 'error')) out.push([`✖ ${d.message}`, 'diag']);
  const warnings = n.diagnostics.filter((x) => x.severity === 'warning').length;
  if (warnings) out.push([`${warnings} warning${warnings > 1 ? 's' : ''} (listed under the stack)`, 'muted']);
  for (const m of marks) out.push([m.text, 'step']);
  return out.map(([t, c]) => [cut(t), c]);
}

/** Where an edge really lands: a substack box's first line, or past an empty one. */
function landing(model: FlowModel, t: Target): string {
  if (t === 'end') return 'end';
  const n = model.nodes[t];
  if (n.kind === 'substack') {
    const first = model.nodes[t + 1];
    if (first && first.level > n.level) return landing(model, t + 1);
  }
  return `n${t}`;
}

const ACTION_CLASS = (action: string) => `a-${action.startsWith('jump') ? 'jump' : action}`;

/** What a node does for the keyboard: focus says where it is; Enter activates it. */
export interface NodeHandlers {
  focus: (index: number) => void;
  activate: (index: number) => void;
}

/** Draws `model` into `host`; `marks` light up the lines a run walked, `ending` is the run's result, shown at the end. */
export function renderFlow(host: HTMLElement, model: FlowModel, marks: ReadonlyMap<number, NodeMark[]>, ending: readonly string[], on: NodeHandlers): void {
  const g = new Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 46, edgesep: 16, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  g.setNode('start', { width: 120, height: 30, label: 'start' });
  const endLines = ['end of stack', ...ending];
  g.setNode('end', { width: Math.max(160, ...endLines.map((l) => l.length * CHAR + 24)), height: 14 + endLines.length * LINE, label: endLines.join('\n') });
  const boxes = new Map<string, [string, string][]>();
  const emptySub = (n: FlowNode) => !(model.nodes[n.index + 1]?.level > n.level);
  for (const n of model.nodes) {
    const id = `n${n.index}`;
    if (n.kind === 'substack' && !emptySub(n)) {
      g.setNode(id, { label: `substack ${n.module ?? ''}`, clusterLabelPos: 'top', paddingTop: 28 });
    } else {
      const lines = n.kind === 'substack' ? [[`${base(n.file)}:${n.line}  substack ${n.module ?? ''} (no session lines)`, 'title'] as [string, string]] : nodeLines(n, marks.get(n.index) ?? []);
      boxes.set(id, lines);
      g.setNode(id, { width: NODE_WIDTH, height: lines.length * LINE + 12 });
    }
    if (n.parent !== undefined) g.setParent(id, `n${n.parent}`);
  }
  if (model.nodes.length) g.setEdge('start', landing(model, 0), { rows: [], width: 0, height: 0 });
  else g.setEdge('start', 'end', { rows: [], width: 0, height: 0 });
  for (const n of model.nodes) {
    for (const e of n.edges) {
      const rows = e.rows.map((r) => ({ text: `${r.action}: ${r.others ? 'other codes' : cut(r.codes.join(' '), 34)}`, cls: ACTION_CLASS(r.action) }));
      if (e.badJump) rows.push({ text: 'jump past the end: fails', cls: 'a-bad' });
      const width = Math.max(...rows.map((r) => r.text.length)) * 6.3 + 8;
      const kind = e.badJump ? 'fail' : e.rows.every((r) => r.action.startsWith('jump')) ? 'jump'
        : e.rows.every((r) => r.action === 'done' || r.action === 'die') ? (e.rows.some((r) => r.action === 'die') ? 'fail' : 'end') : 'plain';
      g.setEdge(`n${n.index}`, landing(model, e.target), { rows, kind, width, height: rows.length * 13 + 4, labelpos: 'c' });
    }
  }
  layout(g);
  const { width = 400, height = 300 } = g.graph();
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Flow of ${model.nodes.length} stack lines` });
  const defs = el('defs', {}, svg);
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
  el('path', { d: 'M0,0 L10,5 L0,10 z' }, marker);
  // Substack boxes first, so lines and edges draw over them.
  for (const id of g.nodes()) {
    if (boxes.has(id) || id === 'start' || id === 'end') continue;
    const c = g.node(id);
    const grp = el('g', { class: 'cluster' }, svg);
    el('rect', { x: c.x - c.width / 2, y: c.y - c.height / 2, width: c.width, height: c.height, rx: 8 }, grp);
    el('text', { x: c.x - c.width / 2 + 8, y: c.y - c.height / 2 + 16, class: 'muted' }, grp).textContent = cut(String(c.label), 60);
  }
  for (const e of g.edges()) {
    const lab = g.edge(e) as { points: { x: number; y: number }[]; rows: { text: string; cls: string }[]; kind?: string; x?: number; y?: number; width?: number; height?: number };
    const grp = el('g', { class: `edge ${lab.kind ?? 'plain'}` }, svg);
    const d = lab.points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    el('path', { d, 'marker-end': 'url(#arrow)' }, grp);
    if (lab.rows.length && lab.x !== undefined && lab.y !== undefined) {
      const lg = el('g', { class: 'edge-label' }, grp);
      el('rect', { x: lab.x - lab.width! / 2, y: lab.y - lab.height! / 2, width: lab.width!, height: lab.height!, rx: 3 }, lg);
      lab.rows.forEach((r, i) => {
        el('text', { x: lab.x! - lab.width! / 2 + 4, y: lab.y! - lab.height! / 2 + 12 + i * 13, class: r.cls }, lg).textContent = r.text;
      });
    }
  }
  for (const id of ['start', 'end']) {
    const c = g.node(id);
    const grp = el('g', { class: 'terminal' }, svg);
    el('rect', { x: c.x - c.width / 2, y: c.y - c.height / 2, width: c.width, height: c.height, rx: 15 }, grp);
    String(c.label).split('\n').forEach((t, i) => {
      el('text', { x: c.x, y: c.y - c.height / 2 + 20 + i * LINE, 'text-anchor': 'middle', class: i ? 'step' : '' }, grp).textContent = t;
    });
  }
  for (const [id, lines] of boxes) {
    const c = g.node(id);
    const n = model.nodes[Number(id.slice(1))];
    const cls = ['node', n.native ? 'native' : '', n.diagnostics.some((d) => d.severity === 'error') || n.kind === 'must-fail' ? 'has-error' : '', marks.has(n.index) ? 'lit' : ''];
    const grp = el('g', {
      class: cls.filter(Boolean).join(' '), tabindex: 0, role: 'group', 'data-index': n.index, 'data-line': n.line, 'data-file': n.file,
      'aria-label': lines.map(([t]) => t).join('; '),
    }, svg);
    el('rect', { x: c.x - c.width / 2, y: c.y - c.height / 2, width: c.width, height: c.height, rx: 6 }, grp);
    lines.forEach(([t, k], i) => {
      el('text', { x: c.x - c.width / 2 + 8, y: c.y - c.height / 2 + 18 + i * LINE, class: k }, grp).textContent = t;
    });
    grp.addEventListener('focus', () => on.focus(n.index));
    grp.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        on.activate(n.index);
      }
    });
  }
  host.replaceChildren(svg);
}
