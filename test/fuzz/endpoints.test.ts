// Issue 16, fuzzing kept in the suite: hostile requests to every /v2 and /api/v1 endpoint (and /token), as
// anonymous, system admin, developer, guest and robot, against a real Berth. Invariants: never a 5xx, never a
// hang, every 4xx in the {"errors":[…]} format, the server healthy afterwards, nothing stored by a refused
// request. Seeded: a failure prints the seed and the shrunk request; BERTH_FUZZ_SEED replays it. The long
// run is `npm run fuzz -- --requests 100000` (test/fuzz/run.ts).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISTRIBUTION_ENDPOINTS } from '../../src/distribution/index.js';
import { allEndpoints, checked, problemsAfter, Tally } from './campaign.js';
import { type FuzzTarget, holdings, REPOSITORIES, startFuzzTarget } from './fuzz-target.js';
import { type Endpoint, requestArb, templateOf, v2Endpoints } from './requests.js';
import { closeAgent } from './send.js';

const RUNS = Number(process.env.BERTH_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 2 ** 31);

let target: FuzzTarget;
let endpoints: Endpoint[];

beforeAll(async () => {
  target = await startFuzzTarget();
  endpoints = await allEndpoints(target);
});

afterAll(async () => {
  closeAgent();
  await target?.close();
});

describe('the endpoint list', () => {
  it('covers every /v2 route of the router and every operation of the OpenAPI document', () => {
    for (const route of DISTRIBUTION_ENDPOINTS) {
      const endpoint = endpoints.find((e) => e.name === `v2 ${route.name}`);
      expect(endpoint, route.name).toBeDefined();
      // The template filled with sane values reaches this very route.
      const sample = (endpoint as Endpoint).template
        .replace('{name}', REPOSITORIES[0])
        .replace('{reference}', 'v1')
        .replace('{digest}', `sha256:${'a'.repeat(64)}`)
        .replace('{uuid}', 'x')
        .replace(/^\/v2\//, '');
      expect(route.pattern.test(sample), `${templateOf(route.pattern)} → ${sample}`).toBe(true);
    }
    expect(v2Endpoints().length).toBe(DISTRIBUTION_ENDPOINTS.length);
    const api = endpoints.filter((e) => e.api);
    expect(api.length).toBeGreaterThan(30);
    expect(api.map((e) => e.template)).toContain('/api/v1/users/{username}');
  });
});

describe(`${RUNS} hostile requests (seed ${SEED})`, () => {
  it('never a 5xx or a hang, errors in the OCI format, healthy afterwards, nothing stored by a refusal', async () => {
    const before = await holdings(target);
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(requestArb(endpoints, target), (request) => checked(target, request, tally)),
      { numRuns: RUNS, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: 240_000 },
    );
    console.log(
      `fuzz: ${tally.requests} requests (seed ${SEED}) → ${tally.statusTable()}; slowest ${Math.round(tally.slowest.ms)} ms: ${tally.slowest.request.slice(0, 200)}`,
    );
    expect(await problemsAfter(target, before, tally)).toEqual([]);
    // Every endpoint was tried.
    expect(endpoints.filter((e) => !tally.endpoints.has(e.name)).map((e) => e.name)).toEqual([]);
  }, 300_000);
});
