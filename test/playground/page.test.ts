/**
 * The playground page in a real browser (Debian's chromium through
 * playwright-core), served by `pamwasm playground` as a child process.
 * What the page shows is held to the real things: the parser's lines,
 * `pamwasm run --json`, the real libpam, and a native run of every
 * combination of the all-outcomes table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { parseStackFile } from '../../host/stack/index.js';
import { nativeSession, PamHelper } from '../support/native.js';
import { launchBrowser, servePlayground, type Browser, type Served } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pamwasm.js');
const ARTIFACTS = join(ROOT, 'test-artifacts');

let dir: string;
let six: string;
let served: Served;
let browser: Browser;
let page: Page;
let helper: PamHelper;

// A 6-line stack with a jump (line 2 over line 3) and a substack (line 4).
const INNER = 'session sufficient pam_debug.wasm open_session=success\nsession required pam_deny.wasm\n';
const SIX = `session required pam_permit.wasm
session [success=1 default=ignore] pam_debug.wasm open_session=success close_session=success
session requisite pam_deny.wasm
session substack inner.stack
session optional pam_echo.wasm [Hello %u on %t]
session optional pam_warn.wasm
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pamwasm-playground-'));
  writeFileSync(join(dir, 'inner.stack'), INNER);
  six = join(dir, 'six.stack');
  writeFileSync(six, SIX);
  [served, browser, helper] = await Promise.all([servePlayground([six]), launchBrowser(), PamHelper.start({ mode: 'in-process' })]);
  page = await browser.context.newPage();
  await page.goto(served.url);
  await page.waitForSelector('body[data-ready="true"]');
});

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await helper?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces the editor's text as typing would, and waits for the flow to follow. */
async function setText(text: string): Promise<void> {
  const before = Number(await page.locator('body').getAttribute('data-flows'));
  await page.fill('#editor', text);
  await page.waitForFunction((n) => Number(document.body.dataset.flows) > n, before);
}

const stepRows = () => page.locator('#steps tbody tr').evaluateAll((rows) =>
  rows.map((r) => [...r.querySelectorAll('td')].slice(0, 7).map((td) => td.textContent ?? '')));

describe('the playground page', () => {
  it('draws every session line of the opened stack, the substack as a box around its lines', async () => {
    const stack = parseStackFile(six, { strictPermissions: false });
    const want = stack.handlers.filter((h) => h.kind !== 'substack').map((h) => `${h.file}:${h.line}`);
    const drawn = await page.locator('#flow .node').evaluateAll((ns) => ns.map((n) => `${n.getAttribute('data-file')}:${n.getAttribute('data-line')}`));
    expect(drawn.sort()).toEqual(want.sort());
    expect(await page.locator('#flow .cluster').textContent()).toContain('substack inner.stack');
    // The jump's edge says where success goes from line 2.
    expect(await page.locator('#flow .edge.jump').textContent()).toContain('jump 1: success');
  });

  it('shows a diagnostic at the line that was edited to be wrong', async () => {
    await setText(SIX.replace('session requisite pam_deny.wasm', 'session requird pam_deny.wasm'));
    const node = page.locator('#flow .node[data-line="3"]');
    expect(await node.getAttribute('class')).toContain('has-error');
    expect(await node.textContent()).toContain('bad control "requird"');
    expect(await page.locator('#diagnostics li.error').evaluateAll((li) => li.map((l) => l.getAttribute('data-line')))).toEqual(['3']);
    await setText(SIX);
    expect(await page.locator('#diagnostics li.error').count()).toBe(0);
  });

  it('runs open and close with a what-if and shows the steps pamwasm run --json gives', async () => {
    await page.selectOption('select.what-if[data-index="0"][data-hook="open"]', 'session_err');
    await page.selectOption('select.what-if[data-index="6"][data-hook="close"]', 'success');
    await page.click('#run-both');
    await page.waitForSelector('#steps tbody tr');
    const shown = await stepRows();
    const r = spawnSync(process.execPath, [BIN, 'run', '--stack', six, '--service', 'login', '--user', 'alice', '--tty', 'pts/0',
      '--what-if', '1=session_err,-', '--what-if', '5=-,success', '--json'], { encoding: 'utf8' });
    const cli = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const base = (f: string) => f.split('/').pop();
    const whatIfLines = new Set(['open six.stack:1', 'close six.stack:5']);
    expect(shown).toEqual(cli.trace.map((t: Record<string, string>) => [
      t.hook, `${base(t.file)}:${t.line}`, `${t.module}${whatIfLines.has(`${t.hook} ${base(t.file)}:${t.line}`) ? ' (what-if)' : ''}`,
      t.name, t.action, t.impression, t.statusName,
    ]));
    expect(cli.open.name).toBe('PAM_SESSION_ERR');
    expect(await page.locator('#result').textContent()).toBe(`open-session: ${cli.open.name} · close-session: ${cli.close.name}`);
    // The steps light up on the flow, and the export has run --json's shape.
    expect(await page.locator('#flow .node.lit[data-index="0"]').textContent()).toContain('open: PAM_SESSION_ERR (what-if) → bad');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(Object.keys(exported).sort()).toEqual(Object.keys(cli).sort());
    expect(exported.trace).toEqual(cli.trace);
  });

  it('keeps a screenshot of the 6-line stack after a run', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, 'playground-six-line-stack.png');
    await page.locator('#flow').screenshot({ path });
    console.log(`playground screenshot: ${path}`);
    expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG');
  });

  it('puts what each line did beside its step: messages, env changes, module data sizes, syslog lines', async () => {
    await setText('session required pam_setenv.wasm GREETING=hello-%u\nsession required pam_datatest.wasm value=hello\n'
      + 'session optional pam_echo.wasm [hi %u]\nsession optional pam_warn.wasm\n');
    // What-ifs stay on their file:line across edits: line 1 still has the one set above.
    expect(await page.inputValue('select.what-if[data-index="0"][data-hook="open"]')).toBe('session_err');
    await page.selectOption('select.what-if[data-index="0"][data-hook="open"]', '');
    await page.click('#run-open');
    await page.waitForFunction(() => document.querySelectorAll('#steps tbody tr').length === 4);
    const effects = await page.locator('#steps tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelector('td:last-child li')?.textContent ?? ''));
    expect(effects[0]).toBe('env: GREETING=hello-alice');
    // pam_set_data's pointer data lives in the instance; the bytes kept by the host are the 5 of "hello".
    expect(effects[1]).toBe('data: pam_datatest (5 bytes)');
    expect(effects[2]).toBe('info: hi alice');
    expect(effects[3]).toMatch(/^syslog notice: function=\[pam_sm_open_session\] flags=0 service=\[login\] terminal=\[pts\/0\] user=\[alice\]/);
  });

  it('is usable from the keyboard, in a narrow window and in a dark colour scheme', async () => {
    await setText(SIX);
    await page.selectOption('select.what-if[data-index="0"][data-hook="open"]', 'session_err');
    // The flow's lines are in the tab order, in stack order; Enter on a line moves to its what-if.
    await page.focus('#flow .node[data-index="0"]');
    await page.keyboard.press('Tab');
    expect(await page.locator('#status').textContent()).toContain('six.stack:2: [success=1 default=ignore] pam_debug.wasm');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('what if six.stack:2 at open');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('what if six.stack:2 at close');
    const columns = () => page.locator('main').evaluate((m) => getComputedStyle(m).gridTemplateColumns.split(' ').length);
    expect(await columns()).toBe(2);
    await page.setViewportSize({ width: 480, height: 900 });
    expect(await columns()).toBe(1);
    const background = () => page.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).not.toBe(light);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  it('says why a stack with a what-if cannot be compared, and compares it with libpam without', async () => {
    await page.click('#compare');
    await page.waitForSelector('#compare-result[data-comparable]');
    expect(await page.locator('#compare-result').getAttribute('data-comparable')).toBe('false');
    expect(await page.locator('#compare-result').textContent()).toContain('what-if results have no libpam counterpart');

    await page.selectOption('select.what-if[data-index="0"][data-hook="open"]', '');
    await page.selectOption('select.what-if[data-index="6"][data-hook="close"]', '');
    await page.click('#compare');
    await page.waitForSelector('#compare-result[data-agree]');
    expect(await page.locator('#compare-result').getAttribute('data-agree')).toBe('true');
    // What the page calls libpam's is libpam's: the same stack with the .so twins, run here.
    const native = join(dir, 'native');
    mkdirSync(native);
    writeFileSync(join(native, 'inner'), INNER.replaceAll('.wasm', '.so'));
    writeFileSync(join(native, 'login'), SIX.replaceAll('.wasm', '.so').replace('inner.stack', join(native, 'inner')));
    const n = await nativeSession({ service: 'login', confdir: native, helper, items: { tty: 'pts/0' } });
    const text = await page.locator('#compare-result').textContent();
    expect(text).toContain(`libpam:  open ${n.open.name}, close ${n.close.name}, ${n.messages.length} messages`);
    expect(text).toContain(`pamwasm: open ${n.open.name}, close ${n.close.name}, ${n.messages.length} messages`);
  });

  it('lists every combination of line results with the codes libpam gives for it', async () => {
    // Five module lines, a jump and a substack: 3^5 = 243 combinations.
    writeFileSync(join(dir, 'inner2'), 'session requisite pam_debug.wasm\nsession sufficient pam_debug.wasm\n');
    await setText('session [success=1 default=ignore] pam_debug.wasm\nsession substack inner2\nsession required pam_debug.wasm\nsession required pam_permit.wasm\n');
    await page.click('#outcomes-run');
    await page.waitForSelector('#outcomes tbody tr');
    const header = await page.locator('#outcomes thead th').allTextContents();
    expect(header).toEqual(['six.stack:1', 'inner2:1', 'inner2:2', 'six.stack:3', 'six.stack:4', 'open', 'close']);
    const rows = await page.locator('#outcomes tbody tr').evaluateAll((rs) => rs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rows).toHaveLength(3 ** 5);
    expect(await page.locator('#outcomes-note').textContent()).toContain('243 of 243 combinations');
    // Each row, run through the real libpam: every line becomes pam_debug returning its code at both hooks.
    const native = join(dir, 'outcomes');
    mkdirSync(native);
    const debug = (code: string) => `pam_debug.so open_session=${code} close_session=${code}`;
    for (const row of rows) {
      const [a, b, c, d, e, open, close] = row;
      writeFileSync(join(native, 'inner2'), `session requisite ${debug(b)}\nsession sufficient ${debug(c)}\n`);
      writeFileSync(join(native, 'svc'), `session [success=1 default=ignore] ${debug(a)}\nsession substack ${join(native, 'inner2')}\n`
        + `session required ${debug(d)}\nsession required ${debug(e)}\n`);
      const n = await nativeSession({ service: 'svc', confdir: native, helper });
      expect({ row: row.slice(0, 5), open: n.open.name, close: n.close.name }).toEqual({ row: row.slice(0, 5), open, close });
    }
  });

  it('opens a native pam.d file read-only and runs its session lines with what-if results only', async () => {
    const file = '/etc/pam.d/sshd';
    const s2 = await servePlayground([file]);
    try {
      const p = await browser.context.newPage();
      await p.goto(s2.url);
      await p.waitForSelector('body[data-ready="true"]');
      expect(await p.locator('#editor').evaluate((e) => (e as HTMLTextAreaElement).readOnly)).toBe(true);
      expect(await p.locator('#save').isDisabled()).toBe(true);
      const stack = parseStackFile(file, { strictPermissions: false });
      const modules = stack.handlers.filter((h) => h.kind === 'module');
      expect(await p.locator('#flow .node').count()).toBe(stack.handlers.filter((h) => h.kind !== 'substack').length);
      // Every native line offers codes only, starting at success; a run walks them without running anything.
      expect(await p.locator('select.what-if option[value=""]').count()).toBe(0);
      await p.click('#run-both');
      await p.waitForSelector('#steps tbody tr');
      const modulesShown = await p.locator('#steps tbody tr td:nth-child(3)').allTextContents();
      expect(modulesShown.every((m) => m.endsWith('(what-if)'))).toBe(true);
      expect(modulesShown.length).toBeGreaterThan(0);
      expect(modules.length).toBeGreaterThan(0);
      await p.close();
    } finally {
      await s2.stop();
    }
  });
});
