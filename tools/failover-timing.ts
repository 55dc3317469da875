/**
 * Leader failover time, etcd against Synod: each as three members on loopback with the
 * same raft timings, under a light write load, the leader is killed with SIGKILL and the
 * time from the kill to the first write acknowledged by a surviving member (and called
 * after the kill) is measured. The killed member is restarted between runs.
 *
 *   node --conditions=@synod/source --import tsx tools/failover-timing.ts [runs]
 *     [--heartbeat-interval=100] [--election-timeout=1000]
 *
 * Prints every run, then the median and worst of each server and Synod's ratio to etcd.
 */
import {KVDefinition, MaintenanceDefinition} from '@synod/proto';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {sleep, startEtcd, startSynod} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import {median} from './side-by-side.js';

function flag(name: string, fallback: number): number {
  const found = process.argv.find(a => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
}

const runs = Number(process.argv.slice(2).find(a => !a.startsWith('--')) ?? 20);
const heartbeatIntervalMs = flag('heartbeat-interval', 100);
const electionTimeoutMs = flag('election-timeout', 1000);
/** One put is sent every this many milliseconds, to the live members in turn. */
const putIntervalMs = 10;
/** Deadline of one put. */
const putTimeoutMs = 2000;

/** Whether `member` says it is the leader; false when it does not answer. */
async function isLeader(member: EtcdMember): Promise<boolean> {
  const channel = createChannel(member.clientAddress);
  try {
    const status = await createClient(MaintenanceDefinition, channel).status(
      {},
      {signal: AbortSignal.timeout(1000)},
    );
    return status.leader !== 0n && status.leader === status.header?.memberId;
  } catch {
    return false;
  } finally {
    channel.close();
  }
}

async function findLeader(cluster: EtcdCluster, timeoutMs = 30_000): Promise<EtcdMember> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const flags = await Promise.all(cluster.members.map(isLeader));
    const leader = cluster.members[flags.indexOf(true)];
    if (leader !== undefined) return leader;
    if (performance.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Puts at a steady rate to the members still alive; resolves with the milliseconds from
 * `killedAtMs` to the first put called after it that a surviving member acknowledged.
 */
async function measureFailover(cluster: EtcdCluster, run: number): Promise<number> {
  const leader = await findLeader(cluster);
  const survivors = cluster.members.filter(m => m !== leader);
  const channels = cluster.members.map(m => createChannel(m.clientAddress));
  const kvs = channels.map(ch => createClient(KVDefinition, ch));
  let killedAtMs = Infinity;
  let firstAckMs: number | undefined;
  const stopLoad = new AbortController();
  const inFlight = new Set<Promise<void>>();
  try {
    const loop = (async () => {
      for (let i = 0; !stopLoad.signal.aborted; i++) {
        const targets = killedAtMs === Infinity ? cluster.members : survivors;
        const target = targets[i % targets.length];
        const kv = kvs[cluster.members.indexOf(target ?? leader)];
        if (kv !== undefined) {
          const callMs = performance.now();
          const put = kv
            .put(
              {key: Buffer.from(`failover/${run}/${i % 100}`), value: Buffer.from(String(i))},
              {signal: AbortSignal.timeout(putTimeoutMs)},
            )
            .then(
              () => {
                const ackMs = performance.now();
                if (callMs >= killedAtMs && (firstAckMs === undefined || ackMs < firstAckMs)) {
                  firstAckMs = ackMs;
                }
              },
              () => undefined,
            );
          inFlight.add(put);
          void put.finally(() => inFlight.delete(put));
        }
        await sleep(putIntervalMs);
      }
    })();
    // Light load for a while before the fault.
    await sleep(500);
    killedAtMs = performance.now();
    await leader.kill('SIGKILL');
    const deadline = killedAtMs + 60_000;
    while (firstAckMs === undefined && performance.now() < deadline) await sleep(5);
    stopLoad.abort();
    await loop;
    await Promise.all(inFlight);
  } finally {
    stopLoad.abort();
    for (const channel of channels) channel.close();
  }
  if (firstAckMs === undefined) throw new Error('no write was acknowledged within 60 s');
  const failoverMs = firstAckMs - killedAtMs;
  await leader.restart();
  // Let the restarted member catch up before the next leader is killed.
  await findLeader(cluster);
  await sleep(500);
  return failoverMs;
}

const results: Record<string, number[]> = {};
for (const [name, start] of [
  ['etcd', startEtcd],
  ['synod', startSynod],
] as const) {
  const cluster = await start({members: 3, heartbeatIntervalMs, electionTimeoutMs});
  const times: number[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      const ms = await measureFailover(cluster, run);
      times.push(ms);
      console.log(`${name} run ${run}: ${ms.toFixed(0)} ms`);
    }
  } finally {
    await cluster.stop();
  }
  results[name] = times;
}

const etcd = results.etcd ?? [];
const synod = results.synod ?? [];
console.log(
  `\nleader failover, kill -9 to first acknowledged write; 3 members, ` +
    `heartbeat ${heartbeatIntervalMs} ms, election timeout ${electionTimeoutMs} ms, ${runs} runs`,
);
for (const [name, times] of [
  ['etcd', etcd],
  ['synod', synod],
] as const) {
  console.log(
    `${name.padEnd(6)} median ${median(times).toFixed(0)} ms, worst ${Math.max(...times).toFixed(0)} ms`,
  );
}
console.log(
  `synod/etcd: median ${(median(synod) / median(etcd)).toFixed(2)}x, ` +
    `worst ${(Math.max(...synod) / Math.max(...etcd)).toFixed(2)}x`,
);
