// The BullMQ side of bench/tasks.sh (see bench/TASKS.md): the same phases as bench/TasksBench.java,
// with the same job count, against the same Redis server.
//
//   node bench/bullmq/bench.mjs --port REDIS_PORT --out bullmq.json [--n 20000] [--half-n 20000]
//        [--warmup 150000] [--concurrency 64] [--worker-concurrency 16] [--extra-concurrency 64]
//        [--batch 100] [--batch-concurrency 8]
//        [--half-max-in-flight 1024] [--half-max-seconds 40] [--half-rate R] [--pids pulse=PID:self,postgres=PID:tree,redis=PID:tree]
//        [--clk-tck 100] [--timeout 150]
//
// Two processes, like a usual BullMQ deployment (and like Pulse's client and node): this one is
// the producer (one Queue, BullMQ's own connection); it forks itself as the worker (--role worker:
// one Worker on the queue "bench", a processor that does nothing but note job.processedOn -
// job.timestamp). The worker runs all the time; the producer tells it, over the IPC channel, how
// many jobs to wait for, and it answers when that many completed, with the time of the last
// completion and the enqueue-to-start latencies of those jobs.
//
// 1. Worker with concurrency --worker-concurrency (16, as the issue asks).
// 2. Warm-up, not measured: --warmup jobs, four fifths added as in the full-load phase, then one
//    fifth paced as in the half-load phase at half the throughput the first part reached, until
//    all completed (Pulse's warm-up has the same two shapes).
// 3. Full load: --n × queue.add('noop', {}) as fast as the producer can, --concurrency calls in
//    flight (closed loop), while the worker runs them; until all N completed. Throughput:
//    N ÷ (first add → the N-th 'completed' event).
// 4. Half load: --half-n adds open loop at half the full-load throughput, on a fixed schedule
//    (paced in ticks of about 1 ms: setTimeout's resolution), up to --half-max-in-flight adds
//    outstanding; until all completed. Fewer jobs when --half-n at that rate would take longer
//    than --half-max-seconds: rate × that many seconds. --half-rate sets the rate instead (a
//    diagnostic knob: the phase is then not the issue's half load).
// 5. When --extra-concurrency > 0: a new worker process with that concurrency, a warm-up, and the
//    full-load phase again (reported as an extra row).
// 6. When --batch > 1: a new worker process with concurrency --worker-concurrency, a warm-up and a
//    full-load phase whose producer uses queue.addBulk: chunks of --batch jobs ({name: 'noop',
//    data: {}}; the last chunk fewer), --batch-concurrency calls in flight (closed loop), until all
//    N completed. Measured like step 3 (add latency is then per addBulk call).
// Enqueue-to-start per job: job.processedOn (the worker's clock when it moved the job to active)
// minus job.timestamp (the producer's clock when add() built the job), whole milliseconds.
// Keys use BullMQ's default prefix "bull:", so nothing touches Pulse's "tasks:*" keys. Jobs keep
// BullMQ's defaults (attempts 1, completed jobs kept). CPU of the --pids groups, of this process
// ("producer") and of the worker process ("worker") is read from /proc around each window.
// Writes the results as JSON to --out; progress on stderr. Exit 0 when all went as expected,
// 3 when some jobs failed or counts did not match (results still written), 1 on a set-up failure.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { fork } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (i % 2 === 0 ? [...pairs, [arg.replace(/^--/, ''), all[i + 1]]] : pairs), []),
);
const QUEUE = 'bench';
const connection = { host: '127.0.0.1', port: Number(args.port) };
const now = () => performance.timeOrigin + performance.now(); // ms since the epoch, sub-ms, same clock in both processes
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (args.role === 'worker') {
  await runWorker(Number(args.concurrency ?? 16));
} else {
  await runProducer();
}

// ---------------------------------------------------------------- the worker process

async function runWorker(concurrency) {
  const waits = [];
  let completed = 0;
  let failed = 0;
  let lastCompletedAt = 0;
  let until = null; // { target, from }: answer when completed + failed reaches target
  const worker = new Worker(
    QUEUE,
    async (job) => {
      waits.push(job.processedOn - job.timestamp);
    },
    { connection, concurrency },
  );
  let answeredCompleted = 0; // counts at the previous answer: each answer covers the jobs since then
  let answeredFailed = 0;
  const check = () => {
    if (until && completed + failed >= until.target) {
      process.send({
        type: 'done',
        completed: completed - answeredCompleted,
        failed: failed - answeredFailed,
        lastCompletedAt,
        waits: waits.slice(until.from, until.target),
      });
      answeredCompleted = completed;
      answeredFailed = failed;
      until = null;
    }
  };
  worker.on('completed', () => {
    completed += 1;
    lastCompletedAt = now();
    check();
  });
  worker.on('failed', () => {
    failed += 1;
    check();
  });
  worker.on('error', (error) => console.error('bench.mjs worker:', String(error)));
  process.on('disconnect', () => process.exit(1)); // the producer is gone: leave nothing behind
  process.on('message', async (message) => {
    if (message.cmd === 'until') {
      until = message;
      check();
    } else if (message.cmd === 'stop') {
      await worker.close();
      process.send({ type: 'stopped' });
      process.disconnect();
      process.exit(0);
    }
  });
  await worker.waitUntilReady();
  process.send({ type: 'ready' });
}

// ---------------------------------------------------------------- the producer process

async function runProducer() {
  if (!args.port || !args.out) {
    console.error('bench.mjs: --port and --out are required; see the comment at the top');
    process.exit(1);
  }
  const N = Number(args.n ?? 20000);
  const HALF_N = Number(args['half-n'] ?? N);
  const WARMUP = Number(args.warmup ?? 150000);
  const CONCURRENCY = Number(args.concurrency ?? 64);
  const WORKER_CONCURRENCY = Number(args['worker-concurrency'] ?? 16);
  const EXTRA_CONCURRENCY = Number(args['extra-concurrency'] ?? 64);
  const BATCH = Number(args.batch ?? 100); // jobs per addBulk call; 1 or less: no addBulk row
  const BATCH_CONCURRENCY = Number(args['batch-concurrency'] ?? 8); // addBulk calls in flight
  const HALF_MAX_IN_FLIGHT = Number(args['half-max-in-flight'] ?? 1024);
  const HALF_MAX_SECONDS = Number(args['half-max-seconds'] ?? 40);
  const HALF_RATE = Number(args['half-rate'] ?? 0); // 0: half the full-load throughput
  const CLK_TCK = Number(args['clk-tck'] ?? 100);
  const TIMEOUT_MS = Number(args.timeout ?? 150) * 1000;
  const PIDS = (args.pids ?? '').split(',').filter(Boolean).map((spec) => {
    const [name, rest] = spec.split('=');
    const [pid, mode] = rest.split(':');
    return { name, pid: Number(pid), tree: mode === 'tree' };
  });
  const log = (...parts) => console.error('bench.mjs:', ...parts);

  // ---- CPU from /proc

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

  /** CPU seconds so far per group, of this process ("producer"), of the worker process and of the machine (all cores). */
  function cpu(workerPid) {
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
    out.producer = (self.user + self.system) / 1e6;
    const w = stat(workerPid);
    out.worker = w ? (w.utime + w.stime) / CLK_TCK : 0;
    out.client = out.producer + out.worker;
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

  const percentile = (sorted, p) =>
    sorted.length === 0 ? 0 : sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];

  // ---- the worker process, over IPC

  const workers = new Set();
  async function startWorker(concurrency) {
    const child = fork(fileURLToPath(import.meta.url), ['--role', 'worker', '--port', String(connection.port), '--concurrency', String(concurrency)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.add(child);
    child.on('exit', () => workers.delete(child));
    const next = (type) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the worker sent no '${type}' within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
        const onMessage = (message) => {
          if (message.type === type) {
            clearTimeout(timer);
            child.off('message', onMessage);
            child.off('exit', onExit);
            resolve(message);
          }
        };
        const onExit = (code) => {
          clearTimeout(timer);
          reject(new Error(`the worker exited (${code}) while we waited for '${type}'`));
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
    await next('ready');
    let total = 0;
    return {
      pid: child.pid,
      concurrency,
      /** Waits until n more jobs finished; their completion count, last completion time and enqueue-to-start latencies. */
      async finish(n) {
        const from = total;
        total += n;
        const answer = next('done');
        child.send({ cmd: 'until', target: total, from });
        return answer;
      },
      async stop() {
        const stopped = next('stopped');
        child.send({ cmd: 'stop' });
        await stopped;
      },
    };
  }
  const killWorkers = () => workers.forEach((child) => child.kill('SIGTERM'));
  process.on('exit', killWorkers);

  // ---- producing

  /** n × queue.add, CONCURRENCY in flight: each loop adds its next job when its previous add resolved. */
  async function addAll(queue, n) {
    let next = 0;
    let errors = 0;
    let firstError = null;
    const latencies = [];
    const loop = async () => {
      while (next++ < n) {
        const start = now();
        try {
          await queue.add('noop', {});
          latencies.push(now() - start);
        } catch (error) {
          if (errors++ === 0) firstError = String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    return { ok: latencies.length, errors, firstError, latencies, calls: n, maxLag: 0, maxInFlight: CONCURRENCY, firstSent: 0, lastSent: 0 };
  }

  /**
   * n jobs with queue.addBulk in chunks of `batch` (the last one fewer), BATCH_CONCURRENCY calls in
   * flight: each loop adds its next chunk when its previous addBulk resolved. Latency per call; a
   * failed call counts all its jobs as errors.
   */
  async function addAllBulk(queue, n, batch) {
    let next = 0; // the first job of the next chunk
    let ok = 0;
    let calls = 0;
    let errors = 0;
    let firstError = null;
    const latencies = [];
    const loop = async () => {
      while (next < n) {
        const size = Math.min(batch, n - next);
        next += size;
        calls += 1;
        const jobs = Array.from({ length: size }, () => ({ name: 'noop', data: {} }));
        const start = now();
        try {
          const added = await queue.addBulk(jobs);
          latencies.push(now() - start);
          ok += added.length;
        } catch (error) {
          const before = errors;
          errors += size;
          if (before === 0) firstError = String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, loop));
    return { ok, errors, firstError, latencies, calls, maxLag: 0, maxInFlight: BATCH_CONCURRENCY, firstSent: 0, lastSent: 0 };
  }

  /**
   * n × queue.add open loop at `rate` per second: the i-th leaves at start + i/rate whatever became
   * of the earlier ones, as long as fewer than maxInFlight are outstanding. A timer tick (about
   * 1 ms) sends every add that has come due.
   */
  async function paced(queue, n, rate, maxInFlight) {
    let errors = 0;
    let firstError = null;
    let inFlight = 0;
    let maxInFlightSeen = 0;
    let maxLag = 0;
    let answered = 0;
    let firstSent = 0;
    let lastSent = 0;
    let slotFree = null;
    let allAnswered;
    const done = new Promise((resolve) => (allAnswered = resolve));
    const latencies = [];
    const start = now();
    let i = 0;
    while (i < n) {
      const due = Math.min(n, Math.floor(((now() - start) * rate) / 1000) + 1);
      while (i < due && inFlight < maxInFlight) {
        const sent = now();
        if (i === 0) firstSent = sent;
        lastSent = sent;
        maxLag = Math.max(maxLag, sent - (start + (i * 1000) / rate));
        inFlight += 1;
        maxInFlightSeen = Math.max(maxInFlightSeen, inFlight);
        queue
          .add('noop', {})
          .then(
            () => latencies.push(now() - sent),
            (error) => {
              if (errors++ === 0) firstError = String(error);
            },
          )
          .finally(() => {
            inFlight -= 1;
            answered += 1;
            if (answered === n) allAnswered();
            if (slotFree) {
              const free = slotFree;
              slotFree = null;
              free();
            }
          });
        i += 1;
      }
      if (i >= n) break;
      if (inFlight >= maxInFlight) {
        await new Promise((resolve) => (slotFree = resolve));
      } else {
        await sleep(Math.max(1, start + (i * 1000) / rate - now()));
      }
    }
    await done;
    return { ok: latencies.length, errors, firstError, latencies, calls: n, maxLag, maxInFlight: maxInFlightSeen, firstSent, lastSent };
  }

  /**
   * One measured phase: n adds (closed loop when rate is 0, else paced; with batch > 1 closed loop
   * with addBulk in chunks of batch) while the worker runs them, until all finished.
   */
  async function phase(queue, worker, name, n, rate, batch = 1) {
    const before = cpu(worker.pid);
    const t0 = now();
    const finished = worker.finish(n);
    const added =
      batch > 1 ? await addAllBulk(queue, n, batch) : rate > 0 ? await paced(queue, n, rate, HALF_MAX_IN_FLIGHT) : await addAll(queue, n);
    const addSeconds = (now() - t0) / 1e3;
    const done = await finished;
    const t1 = now();
    const after = cpu(worker.pid);
    const seconds = (done.lastCompletedAt - t0) / 1e3;
    const waits = done.waits.sort((a, b) => a - b);
    added.latencies.sort((a, b) => a - b);
    const out = {
      n,
      worker_concurrency: worker.concurrency,
      target_rate: rate,
      batch,
      add: {
        seconds: addSeconds,
        jobs_per_s: added.ok / addSeconds,
        calls: added.calls,
        calls_per_s: added.calls / addSeconds,
        achieved_rate: added.lastSent > added.firstSent ? (n - 1) / ((added.lastSent - added.firstSent) / 1e3) : added.ok / addSeconds,
        ok: added.ok,
        errors: added.errors,
        first_error: added.firstError,
        p50_ms: percentile(added.latencies, 50),
        p99_ms: percentile(added.latencies, 99),
        max_lag_ms: added.maxLag,
        max_in_flight: added.maxInFlight,
      },
      completed: done.completed,
      failed: done.failed,
      seconds,
      jobs_per_s: n / seconds,
      e2s: {
        count: waits.length,
        p50_ms: percentile(waits, 50),
        p90_ms: percentile(waits, 90),
        p99_ms: percentile(waits, 99),
        max_ms: waits.length ? waits[waits.length - 1] : 0,
      },
      cpu: cpuDelta(before, after, (t1 - t0) / 1e3),
    };
    log(
      `${name}: ${added.ok} jobs added in ${addSeconds.toFixed(2)} s (${out.add.jobs_per_s.toFixed(0)}/s) by ${added.calls} calls ` +
        `(${out.add.calls_per_s.toFixed(0)}/s, ${batch > 1 ? `addBulk of up to ${batch}` : 'add'}), ${added.errors} errors; ` +
        `all ${n} finished ${seconds.toFixed(2)} s after the first add: ${out.jobs_per_s.toFixed(0)} jobs/s; ` +
        `enqueue-to-start p50 ${out.e2s.p50_ms} ms, p99 ${out.e2s.p99_ms} ms; ${done.failed} failed`,
    );
    return out;
  }

  const phaseOk = (r, n) => r.add.errors === 0 && r.add.ok === n && r.completed === n && r.failed === 0 && r.e2s.count === n;

  /**
   * WARMUP jobs added like the full-load phase that follows (with addBulk when batch > 1), until
   * all finished. With `withPaced`, the last fifth is added paced at half the throughput of the rest
   * (the half-load phase's shape), as on Pulse's side.
   */
  async function warmUp(queue, worker, batch = 1, withPaced = false) {
    if (WARMUP <= 0) return;
    const pacedN = withPaced ? Math.floor(WARMUP / 5) : 0;
    const fullN = WARMUP - pacedN;
    log(`warm-up: ${fullN} jobs through a worker with concurrency ${worker.concurrency}${batch > 1 ? `, addBulk of ${batch}` : ''}` +
      (pacedN > 0 ? `, then ${pacedN} paced at half that throughput` : ''));
    const t0 = now();
    const finished = worker.finish(fullN);
    const warm = batch > 1 ? await addAllBulk(queue, fullN, batch) : await addAll(queue, fullN);
    const done = await finished;
    if (warm.errors || done.failed) throw new Error(`warm-up went wrong: ${warm.errors} add errors, ${done.failed} failed jobs`);
    if (pacedN > 0) {
      const rate = fullN / ((now() - t0) / 1e3) / 2;
      const pacedFinished = worker.finish(pacedN);
      const warmPaced = await paced(queue, pacedN, rate, HALF_MAX_IN_FLIGHT);
      const pacedDone = await pacedFinished;
      if (warmPaced.errors || pacedDone.failed) {
        throw new Error(`warm-up went wrong: ${warmPaced.errors} add errors, ${pacedDone.failed} failed jobs`);
      }
    }
  }

  const result = { n: N, half_n: HALF_N, concurrency: CONCURRENCY, batch: BATCH, batch_concurrency: BATCH_CONCURRENCY };
  let clean = true;
  let queue = null;
  try {
    queue = new Queue(QUEUE, { connection });
    await queue.waitUntilReady();
    await queue.obliterate({ force: true }); // a fresh Redis has none; keeps a re-run against a kept Redis honest

    let worker = await startWorker(WORKER_CONCURRENCY);
    await warmUp(queue, worker, 1, true);
    log(`full load: ${N} adds, ${CONCURRENCY} in flight, worker concurrency ${WORKER_CONCURRENCY}, until all completed`);
    result.full = await phase(queue, worker, 'full', N, 0);
    clean &&= phaseOk(result.full, N);
    const rate = HALF_RATE > 0 ? HALF_RATE : result.full.jobs_per_s / 2;
    const halfN = Math.max(1, Math.min(HALF_N, Math.round(rate * HALF_MAX_SECONDS)));
    log(`half load: ${halfN} adds paced at ${rate.toFixed(0)}/s, open loop, up to ${HALF_MAX_IN_FLIGHT} in flight`);
    result.half = await phase(queue, worker, 'half', halfN, rate);
    clean &&= phaseOk(result.half, halfN);
    await worker.stop();

    if (EXTRA_CONCURRENCY > 0) {
      worker = await startWorker(EXTRA_CONCURRENCY);
      await warmUp(queue, worker);
      log(`extra, full load: ${N} adds, ${CONCURRENCY} in flight, worker concurrency ${EXTRA_CONCURRENCY}`);
      result.extra_full = await phase(queue, worker, 'extra full', N, 0);
      clean &&= phaseOk(result.extra_full, N);
      await worker.stop();
    }

    if (BATCH > 1) {
      worker = await startWorker(WORKER_CONCURRENCY);
      await warmUp(queue, worker, BATCH);
      log(`addBulk, full load: ${N} jobs in chunks of ${BATCH}, ${BATCH_CONCURRENCY} calls in flight, worker concurrency ${WORKER_CONCURRENCY}`);
      result.bulk_full = await phase(queue, worker, 'addBulk full', N, 0, BATCH);
      clean &&= phaseOk(result.bulk_full, N);
      await worker.stop();
    }

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
    killWorkers();
    await queue?.close().catch(() => {});
    process.exit(1);
  }
  await queue.close();
  writeFileSync(args.out, JSON.stringify(result, null, 2));
  process.exit(clean ? 0 : 3);
}
