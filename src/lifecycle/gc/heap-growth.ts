import v8 from 'node:v8';

/**
 * While a collection runs: V8 collects its heap once it has grown by 30% since the last full collection. (50%
 * peaked at 264 MiB at 1M blobs on SQLite with 23,000 pushes during a 286 s run; 30%, 256 MiB, pushes' p99
 * unchanged: BENCHMARKS.md, GC fourth round.)
 */
const RUN_GROWING_PERCENT = 30;
let holders = 0;

/**
 * Keeps the heap near what is live while a collection runs. V8 lets its heap grow to up to four times what
 * survived the last full collection before collecting again; a run promotes every slice's graph and then
 * drops it, so at 1M blobs a heap of ~42 MiB live grew to ~170 MiB of garbage, and the server's RSS to
 * 320–400 MiB. `--heap-growing-percent`, read by V8 at every full collection, can be changed at run time
 * (v8.setFlagsFromString); its default, 0, is V8's own heuristic, restored when the last run ends.
 * Returns the release.
 */
export function holdCompactHeap(): () => void {
  if (holders++ === 0) v8.setFlagsFromString(`--heap-growing-percent=${RUN_GROWING_PERCENT}`);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) v8.setFlagsFromString('--heap-growing-percent=0');
  };
}
