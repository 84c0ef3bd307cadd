/**
 * Runs a session through the real libpam (pam_start_confdir on a temp config
 * dir) and records what the application saw: the codes of open and close and
 * every conversation message, in order.
 */
import { PAM } from '../../host/codes/index.js';
import { PamError } from '../../host/errors/index.js';
import { openPamHandle, PamHelper, type PamHandle } from '../../host/libpam/index.js';

export interface NativeRun {
  open: { code: number; name: string };
  close: { code: number; name: string };
  messages: { style: string; text: string }[];
  env: Record<string, string>;
}

export interface NativeOptions {
  service: string;
  confdir: string;
  user?: string;
  items?: { tty?: string; rhost?: string; ruser?: string };
  silent?: boolean;
  helper?: PamHelper;
}

/**
 * libpam refuses a service file it gives up on at pam_start (PAM_ABORT), and
 * pamwasm answers PAM_ABORT for every hook of such a stack: with
 * `startFailure: 'codes'` a refused pam_start reads as that, so the two can
 * be compared; by default it throws the PamError.
 */
export async function nativeSession(o: NativeOptions & { startFailure?: 'throw' | 'codes' }): Promise<NativeRun> {
  const messages: { style: string; text: string }[] = [];
  let h: PamHandle;
  try {
    h = await openPamHandle({
      service: o.service,
      user: o.user ?? 'alice',
      confdir: o.confdir,
      helper: o.helper,
      items: o.items,
      conversation: (ms) => {
        for (const m of ms) messages.push({ style: m.style, text: m.text });
        return ms.map(() => null);
      },
    });
  } catch (e) {
    if (o.startFailure !== 'codes' || !(e instanceof PamError) || e.pamCode !== PAM.ABORT.number) throw e;
    const abort = { code: e.pamCode, name: e.pamName };
    return { open: abort, close: abort, messages, env: {} };
  }
  try {
    const open = await h.openSession({ silent: o.silent, throwOnError: false });
    const env = Object.fromEntries((await h.getenvlist()).map((e) => e.split(/=(.*)/s, 2) as [string, string]));
    const close = await h.closeSession({ silent: o.silent, throwOnError: false });
    return { open: { code: open.code, name: open.name }, close: { code: close.code, name: close.name }, messages, env };
  } finally {
    await h.end();
  }
}

export { PamHelper };
