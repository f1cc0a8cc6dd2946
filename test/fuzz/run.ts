// The long fuzz run: `npm run fuzz -- --requests 100000 [--seed N] [--concurrency 4]`. The same requests and
// invariants as endpoints.test.ts, several in flight at once, violations collected rather than shrunk; prints
// the answers per status and per endpoint, the slowest request, and exits 1 on any violation.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { allEndpoints, checked, problemsAfter, Tally } from './campaign.js';
import { holdings, startFuzzTarget } from './fuzz-target.js';
import { requestArb } from './requests.js';
import { closeAgent } from './send.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    concurrency: { type: 'string', default: '4' },
  },
});
const total = Number(values.requests);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
const BATCH = 1000;

const target = await startFuzzTarget();
const started = Date.now();
const tally = new Tally();
const violations: string[] = [];
try {
  const endpoints = await allEndpoints(target);
  const arbitrary = requestArb(endpoints, target);
  const before = await holdings(target);
  for (let batch = 0; batch * BATCH < total; batch++) {
    const requests = fc.sample(arbitrary, {
      seed: seed + batch,
      numRuns: Math.min(BATCH, total - batch * BATCH),
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests.length) {
          const request = requests[next++];
          if (!request) break;
          await checked(target, request, tally).catch((error: Error) => {
            violations.push(error.message);
          });
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `${tally.requests} requests, ${violations.length} violations, ${Math.round(tally.requests / seconds)}/s\n`,
    );
  }
  violations.push(...(await problemsAfter(target, before, tally)));
} finally {
  closeAgent();
  await target.close();
}

const seconds = (Date.now() - started) / 1000;
console.log(
  `fuzz: ${tally.requests} requests in ${seconds.toFixed(0)} s (seed ${seed}, concurrency ${concurrency})`,
);
console.log(`by status: ${tally.statusTable()}`);
const fiveHundreds = [...tally.statuses.entries()].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
console.log(`5xx: ${fiveHundreds}`);
console.log(`slowest: ${Math.round(tally.slowest.ms)} ms: ${tally.slowest.request.slice(0, 300)}`);
console.log('by endpoint:');
for (const [endpoint, count] of [...tally.endpoints.entries()].sort()) console.log(`  ${endpoint}: ${count}`);
if (violations.length > 0) {
  console.log(`${violations.length} violations (first 20):`);
  for (const violation of violations.slice(0, 20)) console.log(`- ${violation}`);
  process.exitCode = 1;
} else {
  console.log('violations: 0');
}
