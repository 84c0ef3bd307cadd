/**
 * `pamwasm run --interactive`: answers a module's prompts on the terminal,
 * the way a login program's conversation function does (misc_conv(3)): the
 * prompt text is shown on stderr and one line is read; an echo-off prompt
 * turns the terminal's echo off while the answer is typed. Modules run
 * synchronously, so the line is read with blocking reads. Answers may also
 * be piped in, one a line; at the end of input a prompt gets no answer
 * (the module sees conv-err).
 */
import { execFileSync } from 'node:child_process';
import { readSync } from 'node:fs';
import type { Answerer } from '../stack/answers.js';

/** One line from `fd` without its newline, or undefined at the end of input. */
function readLine(fd: number): string | undefined {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, one, 0, 1, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EOF') n = 0;
      else throw e;
    }
    if (n === 0) return bytes.length ? Buffer.from(bytes).toString('utf8') : undefined;
    if (one[0] === 0x0a) return Buffer.from(bytes).toString('utf8').replace(/\r$/, '');
    bytes.push(one[0]);
  }
}

/** Turns the terminal on stdin's echo on or off (stty, as getpass does with termios). */
function echo(on: boolean): void {
  execFileSync('stty', [on ? 'echo' : '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
}

/** Answers each prompt with a line read from stdin, showing the prompt on stderr. */
export function terminalAnswerer(): Answerer {
  return (style, text) => {
    process.stderr.write(text);
    const hide = style === 'echo-off' && process.stdin.isTTY;
    if (hide) echo(false);
    try {
      return readLine(0);
    } finally {
      if (hide) {
        echo(true);
        // The newline the user typed was not echoed either.
        process.stderr.write('\n');
      }
    }
  };
}
