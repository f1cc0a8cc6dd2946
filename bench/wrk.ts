/** Runs wrk (one thread, many keep-alive connections) and parses its report. */
import { spawn } from 'node:child_process';

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Latency percentiles in ms, from `--latency`. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  command: string;
}

export interface WrkOptions {
  connections: number;
  seconds: number;
  headers: Record<string, string>;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`wrk: cannot read the duration ${JSON.stringify(text)}`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Parses the text wrk prints with `--latency`. */
export function parseWrk(output: string): Omit<WrkResult, 'command'> {
  const need = (pattern: RegExp, what: string): RegExpExecArray => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`wrk: no ${what} in its output:\n${output}`);
    return match;
  };
  const latency = (p: number) =>
    durationMs(need(new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm'), `${p}% latency`)[1] as string);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: Number(need(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]),
    requests: Number(need(/^\s*(\d+) requests in /m, 'request count')[1]),
    p50: latency(50),
    p75: latency(75),
    p90: latency(90),
    p99: latency(99),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
    },
  };
}

export async function runWrk(binary: string, url: string, options: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const command = ['wrk', ...args.map((a) => (/\s/.test(a) ? `'${a}'` : a))].join(' ');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${command} exited with ${code}:\n${text}`)),
    );
  });
  return { ...parseWrk(output), command };
}
