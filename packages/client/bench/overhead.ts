/**
 * What the client costs over raw nice-grpc calls, and how many watch events one client
 * consumes per second. Not a test: prints figures.
 *
 *   node --conditions=@synod/source --import tsx packages/client/bench/overhead.ts [endpoint]
 *
 * Without an endpoint it starts a local etcd member (the `etcd` binary must be on PATH).
 */
import {performance} from 'node:perf_hooks';

import {startEtcd} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {createClient, op} from '../src/index.js';
import type {Etcd} from '../src/index.js';

const sequentialOps = 20_000;
const concurrentOps = 20_000;
const concurrency = 64;
const watchEvents = 50_000;
const putsPerTxn = 100;

interface Figures {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly opsPerSec: number;
  /** CPU time this process spent per call (user + system): the client's own cost. */
  readonly cpuUsPerOp: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function measure(
  ops: number,
  inFlight: number,
  call: () => Promise<unknown>,
): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < ops) {
      next++;
      const t = performance.now();
      await call();
      latencies.push((performance.now() - t) * 1000);
    }
  };
  await Promise.all(Array.from({length: inFlight}, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  return {
    p50Us: Math.round(percentile(latencies, 0.5)),
    p99Us: Math.round(percentile(latencies, 0.99)),
    opsPerSec: Math.round((ops / elapsedMs) * 1000),
    cpuUsPerOp: Math.round((cpu.user + cpu.system) / ops),
  };
}

function show(name: string, f: Figures): void {
  console.log(
    `${name.padEnd(36)} p50 ${String(f.p50Us).padStart(6)} us  p99 ${String(f.p99Us).padStart(6)} us  ${String(f.opsPerSec).padStart(7)} ops/s  ${String(f.cpuUsPerOp).padStart(4)} us CPU/op`,
  );
}

async function benchGets(client: Etcd): Promise<void> {
  await client.kv.put('bench/get', 'value');
  const raw = client.raw().kv;
  const key = Buffer.from('bench/get');
  // Warm both paths up (JIT, connection) before measuring.
  await measure(2000, 8, () => client.kv.get('bench/get'));
  await measure(2000, 8, () => raw.range({key}));
  for (const [label, ops, inFlight] of [
    ['sequential', sequentialOps, 1],
    [`${concurrency} concurrent`, concurrentOps, concurrency],
  ] as const) {
    show(`raw KVClient.range, ${label}`, await measure(ops, inFlight, () => raw.range({key})));
    show(`client.kv.get, ${label}`, await measure(ops, inFlight, () => client.kv.get('bench/get')));
  }
}

/**
 * Watches `bench/w/` from `startRevision` until `count` events arrived; events per second
 * from the subscription (live: from the first event, since writing paces it).
 */
async function consume(
  client: Etcd,
  startRevision: bigint,
  count: number,
  live: boolean,
): Promise<number> {
  let received = 0;
  let firstAt = performance.now();
  return new Promise<number>(resolve => {
    const subscription = client.watch
      .watch$({prefix: 'bench/w/'}, {startRevision})
      .subscribe(batch => {
        if (live && received === 0) firstAt = performance.now();
        received += batch.events.length;
        if (received >= count) {
          subscription.unsubscribe();
          resolve(Math.round((received / (performance.now() - firstAt)) * 1000));
        }
      });
  });
}

async function benchWatch(client: Etcd, writer: Etcd): Promise<void> {
  const start = await writer.kv.put('bench/watch-start', '');
  const from = start.header.revision + 1n;
  const live = consume(client, from, watchEvents, true);
  const value = 'x'.repeat(64);
  const writeStarted = performance.now();
  const txns = watchEvents / putsPerTxn;
  let nextTxn = 0;
  const worker = async (): Promise<void> => {
    while (nextTxn < txns) {
      const t = nextTxn++;
      const puts = Array.from({length: putsPerTxn}, (_, i) => op.put(`bench/w/${t}/${i}`, value));
      await writer.kv
        .txn()
        .then(...puts)
        .commit();
    }
  };
  await Promise.all(Array.from({length: 8}, worker));
  const writeMs = performance.now() - writeStarted;
  const liveRate = await live;
  console.log(
    `watch, live: ${watchEvents} puts in txns of ${putsPerTxn} from 8 writers at ` +
      `${Math.round((watchEvents / writeMs) * 1000)} puts/s; one watcher kept up at ${liveRate} events/s`,
  );
  // Catch-up from history: the server sends as fast as the client reads.
  const catchUpRate = await consume(client, from, watchEvents, false);
  console.log(`watch, catch-up of ${watchEvents} events from history: ${catchUpRate} events/s`);
}

async function main(): Promise<void> {
  const given = process.argv[2];
  let cluster: EtcdCluster | undefined;
  const endpoint =
    given ??
    (cluster = await startEtcd({heartbeatIntervalMs: 100, electionTimeoutMs: 1000})).endpoints[0];
  if (endpoint === undefined) throw new Error('no endpoint');
  const client = createClient({endpoints: [endpoint]});
  const writer = createClient({endpoints: [endpoint]});
  try {
    console.log(
      `endpoint ${endpoint}${cluster === undefined ? '' : ' (local etcd started for this run)'}`,
    );
    await benchGets(client);
    await benchWatch(client, writer);
    await writer.kv.delete({prefix: 'bench/'});
  } finally {
    client.close();
    writer.close();
    await cluster?.stop();
  }
}

await main();
