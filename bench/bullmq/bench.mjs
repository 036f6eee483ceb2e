// The BullMQ side of bench/tasks.sh (see bench/TASKS.md): the same two phases as
// bench/TasksBench.java, with the same job count and concurrency, against the same Redis server.
//
//   node bench/bullmq/bench.mjs --port REDIS_PORT --out bullmq.json [--n 20000] [--warmup 2000]
//        [--concurrency 64] [--bulk 1000] [--pids pulse=PID:self,postgres=PID:tree,redis=PID:tree]
//        [--clk-tck 100] [--timeout 150]
//
// 1. Warm-up, not measured: --warmup jobs into queue bench-warmup, a Worker runs them all.
// 2. Enqueue: --n times queue.add('noop', {}) into queue bench, --concurrency calls in flight
//    (closed loop, one Queue, BullMQ's own connection), no worker running. Waiting must be N after.
// 3. Processing: a Worker on bench with concurrency --concurrency and a processor that does nothing;
//    the window runs from worker.run() until a poll (every 200 ms, getCompletedCount on the Queue's
//    connection) sees N completed; the exact end, the Nth 'completed' event, is reported beside it.
// 4. addBulk, reported apart: --n jobs into queue bench-bulk in calls of --bulk jobs, one call at a
//    time; then that queue is obliterated.
// Keys use BullMQ's default prefix "bull:", so nothing touches Pulse's "tasks:*" keys. Jobs keep
// BullMQ's defaults (attempts 1, completed jobs kept). CPU of the --pids groups and of this process
// ("client") is read from /proc / process.cpuUsage() around each measured window.
// Writes the results as JSON to --out; progress on stderr. Exit 0 when all went as expected,
// 3 when some jobs failed or counts did not match (results still written), 1 on a set-up failure.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (i % 2 === 0 ? [...pairs, [arg.replace(/^--/, ''), all[i + 1]]] : pairs), []),
);
if (!args.port || !args.out) {
  console.error('bench.mjs: --port and --out are required; see the comment at the top');
  process.exit(1);
}
const N = Number(args.n ?? 20000);
const WARMUP = Number(args.warmup ?? 2000);
const CONCURRENCY = Number(args.concurrency ?? 64);
const BULK = Number(args.bulk ?? 1000);
const CLK_TCK = Number(args['clk-tck'] ?? 100);
const TIMEOUT_MS = Number(args.timeout ?? 150) * 1000;
const PIDS = (args.pids ?? '').split(',').filter(Boolean).map((spec) => {
  const [name, rest] = spec.split('=');
  const [pid, mode] = rest.split(':');
  return { name, pid: Number(pid), tree: mode === 'tree' };
});
const connection = { host: '127.0.0.1', port: Number(args.port) };
const log = (...parts) => console.error('bench.mjs:', ...parts);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- CPU from /proc

function stat(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null;
  }
}

function childrenMap() {
  const map = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(entry);
    if (s) {
      if (!map.has(s.ppid)) map.set(s.ppid, []);
      map.get(s.ppid).push(Number(entry));
    }
  }
  return map;
}

/** CPU seconds so far per group, of this process ("client") and of the machine (all cores). */
function cpu() {
  const out = {};
  let children = null;
  for (const { name, pid, tree } of PIDS) {
    const root = stat(pid);
    let ticks = root ? root.utime + root.stime + (tree ? root.cutime + root.cstime : 0) : 0;
    if (tree) {
      children ??= childrenMap();
      for (const child of children.get(pid) ?? []) {
        const s = stat(child);
        if (s) ticks += s.utime + s.stime + s.cutime + s.cstime;
      }
    }
    out[name] = ticks / CLK_TCK;
  }
  const self = process.cpuUsage();
  out.client = (self.user + self.system) / 1e6;
  try {
    // The whole machine, every core: user nice system idle iowait irq softirq steal.
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    out.machine = (f[1] + f[2] + f[3] + f[6] + f[7] + f[8]) / CLK_TCK;
  } catch {
    // no /proc/stat: no machine total
  }
  return out;
}

const cpuDelta = (before, after, seconds) => ({
  ...Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)])),
  window: seconds,
});

// ---------------------------------------------------------------- phases

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** n × queue.add, CONCURRENCY in flight: each loop adds its next job when its previous add resolved. */
async function addAll(queue, n) {
  let next = 0;
  let errors = 0;
  let firstError = null;
  const latencies = [];
  const loop = async () => {
    while (next++ < n) {
      const start = process.hrtime.bigint();
      try {
        await queue.add('noop', {});
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      } catch (error) {
        if (errors++ === 0) firstError = String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, errors, firstError, latencies };
}

/** Runs a no-op Worker on the queue until `want` jobs completed (seen by a 200 ms poll). */
async function processAll(name, queue, want) {
  let completed = 0;
  let failed = 0;
  let lastCompletedAt = 0;
  const worker = new Worker(name, async () => {}, { connection, concurrency: CONCURRENCY, autorun: false });
  worker.on('completed', () => {
    completed += 1;
    if (completed === want) lastCompletedAt = performance.now();
  });
  worker.on('failed', () => {
    failed += 1;
  });
  worker.on('error', (error) => log('worker error:', String(error)));
  await worker.waitUntilReady();
  const before = cpu();
  const t0 = performance.now();
  const running = worker.run();
  const deadline = Date.now() + TIMEOUT_MS;
  let seen = 0;
  for (;;) {
    const tick = performance.now();
    seen = await queue.getCompletedCount();
    if (seen >= want) break;
    if (Date.now() > deadline) {
      log(`only ${seen} of ${want} jobs in ${name} completed after ${TIMEOUT_MS / 1000} s`);
      process.exit(1);
    }
    await sleep(Math.max(0, 200 - (performance.now() - tick)));
  }
  const t1 = performance.now();
  const after = cpu();
  await worker.close();
  await running;
  return {
    seconds: (t1 - t0) / 1e3,
    exactSeconds: lastCompletedAt ? (lastCompletedAt - t0) / 1e3 : null,
    completed: seen,
    completedEvents: completed,
    failed,
    cpu: cpuDelta(before, after, (t1 - t0) / 1e3),
  };
}

const result = { n: N, concurrency: CONCURRENCY };
let clean = true;
const queues = [];
try {
  const warmQueue = new Queue('bench-warmup', { connection });
  const queue = new Queue('bench', { connection });
  const bulkQueue = new Queue('bench-bulk', { connection });
  queues.push(warmQueue, queue, bulkQueue);
  for (const q of queues) {
    await q.waitUntilReady();
    await q.obliterate({ force: true }); // a fresh Redis has none; keeps a re-run against a kept Redis honest
  }

  if (WARMUP > 0) {
    log(`warm-up: ${WARMUP} jobs into bench-warmup`);
    const warm = await addAll(warmQueue, WARMUP);
    const done = await processAll('bench-warmup', warmQueue, WARMUP);
    if (warm.errors || done.failed) throw new Error(`warm-up went wrong: ${warm.errors} add errors, ${done.failed} failed jobs`);
  }

  log(`enqueue: ${N} × queue.add into bench, ${CONCURRENCY} in flight, no worker`);
  let before = cpu();
  let t0 = performance.now();
  const added = await addAll(queue, N);
  let t1 = performance.now();
  let after = cpu();
  const seconds = (t1 - t0) / 1e3;
  const waiting = await queue.getWaitingCount();
  result.enqueue = {
    seconds,
    jobs_per_s: added.ok / seconds,
    ok: added.ok,
    errors: added.errors,
    first_error: added.firstError,
    waiting,
    p50_ms: percentile(added.latencies, 50),
    p99_ms: percentile(added.latencies, 99),
    cpu: cpuDelta(before, after, seconds),
  };
  log(`enqueue: ${seconds.toFixed(2)} s, ${(added.ok / seconds).toFixed(0)} jobs/s, ${added.errors} errors, ${waiting} waiting`);
  if (added.errors || waiting !== N) clean = false;

  log(`processing: Worker with concurrency ${CONCURRENCY}, no-op processor, polling the completed count every 200 ms`);
  const processed = await processAll('bench', queue, waiting);
  result.process = { ...processed, jobs_per_s: processed.completed / processed.seconds };
  result.process.exact_jobs_per_s = processed.exactSeconds ? processed.completed / processed.exactSeconds : null;
  log(
    `processing: ${processed.seconds.toFixed(2)} s (Nth completed event after ${processed.exactSeconds?.toFixed(2)} s), ` +
      `${result.process.jobs_per_s.toFixed(0)} jobs/s, ${processed.failed} failed`,
  );
  if (processed.completed !== N || processed.failed) clean = false;

  log(`addBulk: ${N} jobs into bench-bulk, ${BULK} per call, one call at a time`);
  before = cpu();
  t0 = performance.now();
  for (let done = 0; done < N; done += BULK) {
    const batch = Array.from({ length: Math.min(BULK, N - done) }, () => ({ name: 'noop', data: {} }));
    await bulkQueue.addBulk(batch);
  }
  t1 = performance.now();
  after = cpu();
  const bulkWaiting = await bulkQueue.getWaitingCount();
  result.add_bulk = { seconds: (t1 - t0) / 1e3, jobs_per_s: N / ((t1 - t0) / 1e3), batch: BULK, waiting: bulkWaiting,
    cpu: cpuDelta(before, after, (t1 - t0) / 1e3) };
  log(`addBulk: ${result.add_bulk.seconds.toFixed(2)} s, ${result.add_bulk.jobs_per_s.toFixed(0)} jobs/s, ${bulkWaiting} waiting`);
  if (bulkWaiting !== N) clean = false;
  await bulkQueue.obliterate({ force: true });

  const client = new Redis(connection);
  try {
    result.redis_version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
    const setting = async (name) => (await client.config('GET', name))?.[1] ?? '?';
    result.redis_persistence = `appendonly ${await setting('appendonly')}, appendfsync ${await setting('appendfsync')}, ` +
      `save "${await setting('save')}"`;
  } finally {
    client.disconnect();
  }
} catch (error) {
  log('failed:', error?.stack ?? String(error));
  await Promise.allSettled(queues.map((q) => q.close()));
  process.exit(1);
}
await Promise.allSettled(queues.map((q) => q.close()));
writeFileSync(args.out, JSON.stringify(result, null, 2));
process.exit(clean ? 0 : 3);
