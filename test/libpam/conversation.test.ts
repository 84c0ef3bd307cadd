/**
 * The conversation: every message of a multi-message call is answered in
 * order through an async handler that may answer much later; failures give
 * the module PAM_CONV_ERR, never a made-up answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { type ConvMessage, answerEach, openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir, recordingConversation } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

const multiconv = dir.build('pam_multiconv');
dir.service('multi', `
  auth    required ${multiconv}
  session required pam_debug.so open_session=success close_session=success
  session required ${multiconv}
`);
dir.service('binary', `auth required ${multiconv} style=7`); // PAM_BINARY_PROMPT
dir.service('radio', `auth required ${multiconv} style=5`); // PAM_RADIO_TYPE
dir.service('many-32', `auth required ${multiconv} count=32`); // PAM_MAX_NUM_MSG
dir.service('many-33', `auth required ${multiconv} count=33`);
dir.service('prompt-user', 'auth required pam_permit.so'); // its pam_get_user prompts when no user was given
// pam_echo returns PAM_IGNORE when silent, hence `optional` and pam_permit.
dir.service('echo', `
  session optional pam_echo.so Hello %u on %t
  session required pam_permit.so
`);

describe.each(MODES)('in %s mode', (mode) => {
  test('several messages in one call are answered in order, even when the answer comes later', async () => {
    const seen: ConvMessage[][] = [];
    const conversation = async (messages: readonly ConvMessage[]) => {
      seen.push([...messages]);
      await sleep(20); // e.g. waiting for an SSH client
      return messages.map((m) => (m.style === 'prompt-echo-off' ? 's3cr3t ✓' : m.style === 'prompt-echo-on' ? '123456' : null));
    };
    const h = await openPamHandle({ service: 'multi', user: 'alice', confdir: dir.path, mode, conversation });
    await h.openSession();
    expect(seen).toEqual([
      [{ style: 'info', text: 'open_session=success' }],
      [
        { style: 'prompt-echo-off', text: 'Password: ' },
        { style: 'prompt-echo-on', text: 'Token: ' },
        { style: 'info', text: 'info after prompts' },
        { style: 'error', text: 'error last' },
      ],
    ]);
    expect(await h.getenvlist()).toEqual(expect.arrayContaining([
      'CONV_ANSWER_0=s3cr3t ✓', 'CONV_ANSWER_1=123456', 'CONV_NONPROMPT_NULL=yes',
    ]));
    await h.closeSession();
    await h.end();
  });

  test('pam_authenticate converses too, and answerEach answers one message at a time', async () => {
    const order: string[] = [];
    const conversation = answerEach(async (m, i) => {
      order.push(`${i}:${m.style}`);
      return m.style.startsWith('prompt') ? `answer-${i}` : undefined;
    });
    const h = await openPamHandle({ service: 'multi', user: 'alice', confdir: dir.path, mode, conversation });
    await h.authenticate();
    expect(order).toEqual(['0:prompt-echo-off', '1:prompt-echo-on', '2:info', '3:error']);
    expect(await h.getenv('CONV_ANSWER_0')).toBe('answer-0');
    expect(await h.getenv('CONV_ANSWER_1')).toBe('answer-1');
    await h.end();
  });

  test('a long answer arrives whole', async () => {
    const long = 'x'.repeat(200) + 'é'.repeat(100);
    const h = await openPamHandle({ service: 'multi', user: 'alice', confdir: dir.path, mode, conversation: (ms) => ms.map(() => long) });
    await h.authenticate();
    // pam_multiconv's buffer is 512 bytes, enough for these 400 bytes.
    expect(await h.getenv('CONV_ANSWER_0')).toBe(long);
    await h.end();
  });

  test('a conversation that throws gives the module PAM_CONV_ERR and is kept for the logs', async () => {
    const h = await openPamHandle({
      service: 'multi', user: 'alice', confdir: dir.path, mode,
      conversation: async () => { throw new Error('client went away'); },
    });
    const r = await h.authenticate({ throwOnError: false });
    expect(r.name).toBe('PAM_CONV_ERR');
    expect(h.lastConversationError?.message).toBe('client went away');
    await h.end({ throwOnError: false });
  });

  test('a prompt answered with no string gives PAM_CONV_ERR', async () => {
    for (const bad of [[undefined, 'x'], ['x'], 'not an array', [42, 'x'], ['nul\0inside', 'x']]) {
      const h = await openPamHandle({ service: 'multi', user: 'alice', confdir: dir.path, mode, conversation: () => bad as never });
      expect((await h.authenticate({ throwOnError: false })).code).toBe(PAM.CONV_ERR.number);
      expect(h.lastConversationError).toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
      await h.end({ throwOnError: false });
    }
  });

  test('without a conversation, messages are accepted and prompts fail', async () => {
    const h = await openPamHandle({ service: 'multi', user: 'alice', confdir: dir.path, mode });
    expect((await h.authenticate({ throwOnError: false })).name).toBe('PAM_CONV_ERR');
    await h.end({ throwOnError: false });
    const e = await openPamHandle({ service: 'echo', user: 'alice', confdir: dir.path, mode, items: { tty: 'pts/1' } });
    expect((await e.openSession()).ok).toBe(true);
    await e.end();
  });

  test('binary prompts and calls over PAM_MAX_NUM_MSG messages get PAM_CONV_ERR without reaching the handler', async () => {
    for (const service of ['binary', 'many-33']) {
      const { log, conversation } = recordingConversation();
      const h = await openPamHandle({ service, user: 'alice', confdir: dir.path, mode, conversation });
      expect((await h.authenticate({ throwOnError: false })).name).toBe('PAM_CONV_ERR');
      expect(log).toEqual([]);
      await h.end({ throwOnError: false });
    }
    const { log, conversation } = recordingConversation();
    const h = await openPamHandle({ service: 'many-32', user: 'alice', confdir: dir.path, mode, conversation });
    await h.authenticate();
    expect(log).toHaveLength(32);
    await h.end();
  });

  test('a radio question is answered like a prompt', async () => {
    const { log, conversation } = recordingConversation(['maybe']);
    const h = await openPamHandle({ service: 'radio', user: 'alice', confdir: dir.path, mode, conversation });
    await h.authenticate();
    expect(log).toEqual(['radio:odd message']);
    expect(await h.getenv('CONV_ANSWER_0')).toBe('maybe');
    await h.end();
  });

  test('a user not given at start is asked for through the conversation', async () => {
    const { log, conversation } = recordingConversation(['carol']);
    const h = await openPamHandle({ service: 'prompt-user', confdir: dir.path, mode, conversation });
    await h.authenticate();
    expect(log[0]).toMatch(/^prompt-echo-on:/);
    expect(await h.getItem('user')).toBe('carol');
    await h.end();
  });

  test('silent asks modules not to talk: pam_echo stays quiet', async () => {
    const { log, conversation } = recordingConversation();
    const h = await openPamHandle({ service: 'echo', user: 'alice', confdir: dir.path, mode, conversation, items: { tty: 'pts/3' } });
    await h.openSession({ silent: true });
    expect(log).toEqual([]);
    await h.openSession();
    expect(log).toEqual(['info:Hello alice on pts/3']);
    await h.end();
  });
});
