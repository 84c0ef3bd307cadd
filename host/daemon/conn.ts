/**
 * A module's connection as a stack worker holds it: a raw descriptor the
 * main thread handed over after reading the HOOK frame. Replies wait in
 * memory and leave in one write, at a prompt or with the RESULT (each write
 * is a system call and a wake-up of the module). A prompt is answered
 * synchronously: the worker's thread waits in poll(2) for the ANSWER, which
 * blocks this worker only, as a libpam conversation blocks its application.
 */
import { PAM } from '../codes/index.js';
import { closeFd, readSomeSync, writeAllSync } from './libc.js';
import { encodeFrame, FrameReader, type PromptStyleName, type ToModule } from './protocol.js';

/** How long a module may leave its replies unread before the connection is given up. */
const WRITE_MS = 5000;

export interface Answer { code: number; text: string }

const CONV_FAILED: Answer = { code: PAM.CONV_ERR.number, text: '' };

/** Where one hook's replies go; the orphan closes' one drops them and answers no prompt. */
export interface Reply {
  send(frame: ToModule): void;
  prompt(style: PromptStyleName, text: string): Answer;
}

export const NO_REPLY: Reply = { send: () => {}, prompt: () => CONV_FAILED };

export class Connection implements Reply {
  private out: Buffer[] = [];
  /** The module went away, broke the protocol or stopped reading: nothing more is written. */
  private dead = false;
  private readonly reader = new FrameReader('to-daemon');

  /** `onWrite` is told before the first bytes leave (the watchdog then knows the module has heard from this hook). */
  constructor(readonly fd: number, private readonly promptMs: number, private readonly onWrite: () => void) {}

  send(frame: ToModule): void {
    if (!this.dead) this.out.push(encodeFrame(frame));
  }

  prompt(style: PromptStyleName, text: string): Answer {
    this.send({ type: 'prompt', style, text });
    if (!this.flush()) return CONV_FAILED;
    const until = Date.now() + this.promptMs;
    for (;;) {
      const chunk = readSomeSync(this.fd, until - Date.now());
      if (!chunk) return this.broken();
      let frames;
      try {
        frames = this.reader.push(chunk);
      } catch {
        return this.broken();
      }
      if (frames.length === 0) continue;
      // Only one ANSWER may follow a PROMPT.
      const [f] = frames;
      if (frames.length !== 1 || f.type !== 'answer') return this.broken();
      return { code: f.code, text: f.text };
    }
  }

  /** Sends the RESULT after what waits; nothing is written after it. */
  finish(code: number): void {
    this.send({ type: 'result', code });
    this.flush();
    this.dead = true;
  }

  /** Closes the descriptor (the module then sees the end of the stream). */
  release(): void {
    closeFd(this.fd);
  }

  private broken(): Answer {
    this.dead = true;
    return CONV_FAILED;
  }

  private flush(): boolean {
    if (this.dead) return false;
    if (this.out.length === 0) return true;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out = [];
    this.onWrite();
    if (!writeAllSync(this.fd, data, WRITE_MS)) this.dead = true;
    return !this.dead;
  }
}
