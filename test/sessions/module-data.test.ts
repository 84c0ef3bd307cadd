/**
 * Module data from open to close: pam_stamp's bytes (kept by the host, so
 * they survive a fresh instance, as in another process), the C SDK's
 * pointer data (one instance only), and pam_showenv, the debugging module
 * the system tests use to see the PAM environment.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { newHandleState } from '../../host/runtime/index.js';
import { parseStackFile, runStack, StackSession } from '../../host/stack/index.js';
import { Scratch } from './support.js';

const dir = new Scratch();
afterAll(() => dir.cleanup());

const items = { service: 'login', user: 'alice', tty: 'pts/3' };
const texts = (ms: { text: string }[]) => ms.map((m) => m.text);

describe('pam_stamp', () => {
  const stack = dir.write('stamp.stack', 'session required pam_stamp.wasm token=42\n');

  it('shows at close the token, user and tty it stored at open', async () => {
    const r = await runStack({ stackFile: stack, items });
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.close?.name).toBe('PAM_SUCCESS');
    expect(texts(r.messages)).toEqual(['pam_stamp: token=42 user=alice tty=pts/3']);
  });

  it('shows an unset tty as (null)', async () => {
    const r = await runStack({ stackFile: stack, items: { service: 'cron', user: 'bob' } });
    expect(texts(r.messages)).toEqual(['pam_stamp: token=42 user=bob tty=(null)']);
  });

  it('returns PAM_NO_MODULE_DATA from a close without an open, and shows nothing', async () => {
    const r = await runStack({ stackFile: stack, items, phase: 'close' });
    expect(r.close?.name).toBe('PAM_NO_MODULE_DATA');
    expect(r.messages).toEqual([]);
    expect(r.syslog.map((l) => l.message)).toEqual([expect.stringMatching(/no stamp/)]);
  });

  it('refuses to open without token= (PAM_SERVICE_ERR, logged)', async () => {
    const r = await runStack({ stackFile: dir.write('notoken.stack', 'session required pam_stamp.wasm\n'), items, phase: 'open' });
    expect(r.open?.name).toBe('PAM_SERVICE_ERR');
    expect(r.syslog.map((l) => `${l.priority}: ${l.message}`)).toEqual([expect.stringMatching(/^err: no token= argument/)]);
  });

  it('keeps quiet under PAM_SILENT but still closes with success', async () => {
    const r = await runStack({ stackFile: stack, items, silent: true });
    expect(r.close?.name).toBe('PAM_SUCCESS');
    expect(r.messages).toEqual([]);
  });

  it('gets its stamp back in a fresh instance from the snapshot taken at open, as another process does', async () => {
    const opener = await StackSession.create(parseStackFile(stack), newHandleState(items));
    expect((await opener.open()).code).toBe(PAM.SUCCESS.number);
    const saved = JSON.parse(JSON.stringify(opener.snapshot())); // as the registry stores it
    opener.end();

    const closer = await StackSession.create(parseStackFile(stack), newHandleState(items));
    closer.restore(saved);
    const closed = await closer.close();
    expect(closed.name).toBe('PAM_SUCCESS');
    expect(texts(closer.messages)).toEqual(['pam_stamp: token=42 user=alice tty=pts/3']);
  });
});

describe('C SDK module data', () => {
  const stack = dir.write('data.stack', 'session required pam_datatest.wasm value=kept\n');

  it('keeps pam_set_data pointers within one instance, and the byte API across instances', async () => {
    const s = await StackSession.create(parseStackFile(stack), newHandleState(items));
    await s.open();
    const saved = s.snapshot();
    await s.close();
    expect(texts(s.messages)).toEqual(['pointer=kept bytes=kept replaced=1 status=0x20000000']);

    const fresh = await StackSession.create(parseStackFile(stack), newHandleState(items));
    fresh.restore(saved);
    await fresh.close();
    expect(texts(fresh.messages)).toEqual(['pointer=(none) bytes=kept replaced=0 status=0']);
  });
});

describe('pam_showenv', () => {
  it('shows each named variable of the PAM environment, empty and unset ones too, at open and close', async () => {
    const r = await runStack({
      stackFile: dir.write('showenv.stack', 'session required pam_showenv.wasm GREETING EMPTY MISSING\n'),
      items, env: { GREETING: 'hello world', EMPTY: '' },
    });
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.close?.name).toBe('PAM_SUCCESS');
    const once = ['GREETING=hello world', 'EMPTY=', 'MISSING unset'];
    expect(texts(r.messages)).toEqual([...once, ...once]);
  });

  it('returns PAM_IGNORE and shows nothing under PAM_SILENT', async () => {
    const r = await runStack({ stackFile: dir.write('showenv2.stack', 'session optional pam_showenv.wasm GREETING\n'), items, silent: true, phase: 'open' });
    expect(r.messages).toEqual([]);
    expect(r.trace[0].name).toBe('PAM_IGNORE');
  });
});
