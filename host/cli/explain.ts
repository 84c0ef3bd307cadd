/**
 * `pamwasm explain STACK`: the playground's flow in the terminal: each
 * session line, where each code goes from it, and the all-outcomes table.
 */
import { parseArgs } from 'node:util';
import { describeTarget, flowModel, type FlowModel } from '../playground/model.js';
import { allOutcomes, DEFAULT_OUTCOME_CODES, OUTCOME_CAP, type OutcomeTable } from '../playground/outcomes.js';
import { parseStackFile } from '../stack/index.js';
import { bold, codeName, dim, table } from './output.js';
import { usage } from './usage.js';

export const EXPLAIN_HELP = `Usage: pamwasm explain STACK [--codes LIST] [--json]

Prints the flow of a stack's session lines (includes inlined, substacks
indented): each line, what each code does there and where the walk goes
next, then the final open-session and close-session codes for every
combination of the module lines' results.

  --codes LIST  the codes each module line may return in the table, comma
                separated (default: ${DEFAULT_OUTCOME_CODES.join(',')}); each line returns
                its code at open and at close. At most ${OUTCOME_CAP} combinations are
                worked out; the output says when the table was capped.
  --json        print {"flow": ..., "outcomes": ...} as one JSON object

Nothing runs: the table comes from the dispatcher alone.`;

const base = (f: string) => f.split('/').pop() ?? f;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { codes: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(EXPLAIN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('explain needs one stack file', 'explain');
  // Explaining reads the stack; it runs nothing, so root's ownership rule is not applied.
  const stack = parseStackFile(positionals[0], { strictPermissions: false });
  const flow = flowModel(stack);
  const outcomes = await allOutcomes(stack, values.codes?.split(',') ?? [...DEFAULT_OUTCOME_CODES]);
  if (values.json) {
    console.log(JSON.stringify({ flow, outcomes }));
    return 0;
  }
  printFlow(flow);
  console.log();
  printOutcomes(outcomes);
  return 0;
}

function printFlow(flow: FlowModel): void {
  const count = flow.nodes.filter((n) => n.kind !== 'substack').length;
  console.log(bold(`${flow.file}: ${count} session line${count === 1 ? '' : 's'}`) + (flow.otherTypes ? dim(` (${flow.otherTypes} lines of other types not shown)`) : ''));
  if (flow.fatal) console.log(`libpam refuses the whole file: ${flow.fatal.message} Every hook returns PAM_ABORT.`);
  for (const d of flow.diagnostics) console.log(`${base(d.file)}:${d.line}: ${d.severity}: ${d.message}`);
  for (const n of flow.nodes) {
    const pad = '  '.repeat(n.level);
    const where = `${base(n.file)}:${n.line}`;
    if (n.kind === 'substack') {
      console.log(`\n${pad}${bold(where)}  substack ${n.module ?? ''}: its lines run as one step; done and die there end only the substack`);
      continue;
    }
    const what = n.kind === 'must-fail' ? dim('malformed: fails as libpam fails it') : [n.module, ...n.args].join(' ');
    console.log(`\n${pad}${bold(where)}  ${n.control}  ${what}${n.native ? dim('  (native module)') : ''}`);
    if (n.settings.length) console.log(`${pad}  sandbox: ${n.settings.join(' ')}`);
    for (const d of n.diagnostics) console.log(`${pad}  ${d.severity}: ${d.message}`);
    const rows: string[][] = [];
    for (const e of n.edges) {
      for (const r of e.rows) {
        const to = e.badJump ? 'past the end of its level: the stack fails' : describeTarget(flow, e.target);
        rows.push([`${pad}  ${r.action}`, r.others ? 'other codes' : r.codes.join(' '), `-> ${to}`]);
      }
    }
    if (rows.length) console.log(table([['', '', ''], ...rows]).split('\n').slice(1).join('\n'));
  }
}

function printOutcomes(t: OutcomeTable): void {
  console.log(bold(`All outcomes over ${t.codes.join(', ')}: ${t.rows.length} of ${t.combinations} combination${t.combinations === 1 ? '' : 's'}`)
    + (t.capped ? ` (capped at ${OUTCOME_CAP})` : ''));
  if (!t.lines.length) console.log(dim('no module lines: one outcome'));
  const rows = [[...t.lines.map((l) => `${base(l.file)}:${l.line}`), 'open', 'close'].map((h) => bold(h))];
  for (const r of t.rows) rows.push([...r.results, codeName(r.open, r.open === 'PAM_SUCCESS' ? 0 : 1), codeName(r.close, r.close === 'PAM_SUCCESS' ? 0 : 1)]);
  console.log(table(rows));
  const tally = new Map<string, number>();
  for (const r of t.rows) tally.set(`open ${r.open}, close ${r.close}`, (tally.get(`open ${r.open}, close ${r.close}`) ?? 0) + 1);
  console.log();
  for (const [k, v] of [...tally].sort((a, b) => b[1] - a[1])) console.log(`${String(v).padStart(6)}  ${k}`);
}
