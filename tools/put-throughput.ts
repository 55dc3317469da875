/**
 * A first side-by-side figure: put throughput and latency with N concurrent
 * clients against a three-member etcd cluster and a three-member Synod cluster
 * on this machine, same flags, same workload, one after the other.
 *
 *   node --conditions=@synod/source --import tsx tools/put-throughput.ts [clients] [seconds]
 *
 * (synod-bench will replace this with the full workload set.)
 */
import {KVDefinition} from '@synod/proto';
import type {EtcdCluster} from '@synod/testing';
import {startEtcd, startSynod} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';

const clients = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 10);
const value = Buffer.alloc(256, 'v');

interface Figures {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

async function run(cluster: EtcdCluster): Promise<Figures> {
  // One connection per member, clients spread over them, as a client pool would.
  const channels = cluster.endpoints.map(e => createChannel(e.replace('http://', '')));
  const kvs = channels.map(ch => createClient(KVDefinition, ch));
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({length: clients}, async (_, c) => {
      const kv = kvs[c % kvs.length];
      if (kv === undefined) return;
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        try {
          await kv.put({key: Buffer.from(`bench/${c}/${i % 1000}`), value});
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  for (const ch of channels) ch.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {opsPerSec: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors};
}

const options = {members: 3, heartbeatIntervalMs: 100, electionTimeoutMs: 1000};
const results: Record<string, Figures> = {};
for (const [name, start] of [
  ['etcd', startEtcd],
  ['synod', startSynod],
] as const) {
  const cluster = await start(options);
  try {
    await run(cluster); // warm-up: connections, JIT
    results[name] = await run(cluster);
  } finally {
    await cluster.stop();
  }
}
const e = results.etcd;
const s = results.synod;
if (e !== undefined && s !== undefined) {
  const row = (n: string, f: Figures) =>
    `${n.padEnd(6)} ${f.opsPerSec.toFixed(0).padStart(8)} puts/s   p50 ${f.p50Ms.toFixed(2).padStart(7)} ms   p99 ${f.p99Ms.toFixed(2).padStart(7)} ms   errors ${f.errors}`;
  console.log(`put, 256-byte values, ${clients} concurrent clients, 3 members, ${seconds} s`);
  console.log(row('etcd', e));
  console.log(row('synod', s));
  console.log(
    `synod/etcd: throughput ${(s.opsPerSec / e.opsPerSec).toFixed(2)}, p50 ${(s.p50Ms / e.p50Ms).toFixed(2)}, p99 ${(s.p99Ms / e.p99Ms).toFixed(2)}`,
  );
}
