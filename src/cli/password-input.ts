import { UsageError } from './api-client.js';

/** All of standard input, without the one trailing newline `echo` and here-strings add. */
export async function readStdinSecret(what: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new UsageError(`${what}: standard input is empty`);
  return text;
}

/** Asks on the terminal without echoing; Ctrl-C cancels. */
export function askSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') {
          done();
          resolve(value);
          return;
        }
        if (character === '\u0003' || character === '\u0004') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        value = character === '\u007f' || character === '\b' ? value.slice(0, -1) : value + character;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * The password to set: from `--password`, from standard input with `--password-stdin`, or asked twice on the
 * terminal. Without a terminal and without either flag it is a usage error (nothing to wait for).
 */
export async function newPassword(flags: { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new UsageError('give --password or --password-stdin, not both');
  }
  if (flags.password !== undefined) return flags.password;
  if (flags.passwordStdin) return readStdinSecret('--password-stdin');
  if (!process.stdin.isTTY) {
    throw new UsageError('give the new password with --password-stdin (or --password)');
  }
  const first = await askSecret('New password: ');
  const second = await askSecret('Repeat it: ');
  if (first !== second) throw new UsageError('the passwords differ');
  return first;
}
