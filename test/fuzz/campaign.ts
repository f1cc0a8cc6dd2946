// What the short fuzz test and the long run share: the endpoint list, one checked request, the tallies, and the
// checks made once a run is over (still healthy, nothing stored by a refused request).
import type { FuzzTarget, Holdings } from './fuzz-target.js';
import { holdings } from './fuzz-target.js';
import { apiEndpoints, type Endpoint, type FuzzRequest, OTHER_ENDPOINTS, v2Endpoints } from './requests.js';
import { type Answer, mutates, send, violation } from './send.js';

export async function allEndpoints(target: FuzzTarget): Promise<Endpoint[]> {
  const res = await fetch(new URL('/api/v1/openapi.json', target.berth.url));
  const document = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  return [...v2Endpoints(), ...apiEndpoints(document), ...OTHER_ENDPOINTS];
}

export class Tally {
  readonly statuses = new Map<number, number>();
  readonly endpoints = new Map<string, number>();
  /** Decoded paths of mutating requests that succeeded: only these may have changed what is stored. */
  readonly mutated: string[] = [];
  /** 201s on /v2 mutations: each may add one stored blob file at most. */
  created = 0;
  requests = 0;
  slowest: { ms: number; request: string } = { ms: 0, request: '' };

  record(request: FuzzRequest, answer: Answer): void {
    this.requests += 1;
    this.statuses.set(answer.status, (this.statuses.get(answer.status) ?? 0) + 1);
    this.endpoints.set(request.endpoint, (this.endpoints.get(request.endpoint) ?? 0) + 1);
    if (answer.ms > this.slowest.ms) this.slowest = { ms: answer.ms, request: describe(request) };
    if (mutates(request) && answer.status < 400) {
      this.mutated.push(safeDecode(request.path));
      if (answer.status === 201 && request.path.startsWith('/v2/')) this.created += 1;
      // A scan requested (202) stores up to three blobs in the background: two SBOMs and the empty config.
      if (answer.status === 202 && /\/artifacts\/[^/]+\/scan(\?|$)/.test(request.path)) this.created += 3;
    }
  }

  statusTable(): string {
    return [...this.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ');
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export function describe(request: FuzzRequest): string {
  const body =
    request.body === undefined ? 'no body' : `${request.body.length} B${request.chunked ? ' chunked' : ''}`;
  return `${request.caller}/${request.scheme} ${request.method} ${request.path.slice(0, 300)} ${JSON.stringify(request.headers)} (${body})`;
}

/** Sends one request; throws with the request and answer when an invariant breaks. */
export async function checked(target: FuzzTarget, request: FuzzRequest, tally: Tally): Promise<void> {
  let answer: Answer;
  try {
    answer = await send(target, request);
  } catch (error) {
    throw new Error(`${describe(request)}\n→ ${(error as Error).message}`);
  }
  tally.record(request, answer);
  const problem = violation(request, answer);
  if (problem) throw new Error(`${describe(request)}\n→ ${problem}`);
}

/** After a run: the server still answers, and what changed was changed by a request that succeeded. */
export async function problemsAfter(target: FuzzTarget, before: Holdings, tally: Tally): Promise<string[]> {
  const problems: string[] = [];
  const base = await fetch(new URL('/v2/', target.berth.url));
  if (base.status !== 401 && base.status !== 200) problems.push(`GET /v2/ answers ${base.status}`);
  const ready = await fetch(new URL('/readyz', target.berth.url));
  if (ready.status !== 200) problems.push(`GET /readyz answers ${ready.status}`);
  const after = await holdings(target);
  const touched = (repository: string) => tally.mutated.some((path) => path.startsWith(`/v2/${repository}/`));
  for (const repository of after.repositories) {
    if (!before.repositories.includes(repository) && !touched(repository)) {
      problems.push(`repository ${repository} appeared, but no request to it succeeded`);
    }
  }
  for (const [repository, tags] of Object.entries(before.tags)) {
    const now = after.tags[repository] ?? [];
    if (JSON.stringify(now) !== JSON.stringify(tags) && !touched(repository)) {
      problems.push(`tags of ${repository} changed (${tags} → ${now}), but no request to it succeeded`);
    }
  }
  if (after.blobFiles - before.blobFiles > tally.created) {
    problems.push(
      `${after.blobFiles - before.blobFiles} blob files appeared, but only ${tally.created} requests created one`,
    );
  }
  return problems;
}
