/**
 * What ZooKeeper over TLS costs, on ZooKeeper 3.8 and on Synod, measured the same way for both:
 *
 *   node --conditions=@synod/source --import tsx tools/zk-tls-bench.ts [--reps=3]
 *     [--connects=200] [--duration=3s] [--sessions=16]
 *
 * One standalone ZooKeeper (Debian's, Netty, the JVM's own default heap, GC and JIT, a plain
 * `clientPort` and a `secureClientPort` with `ssl.clientAuth=need`) and one Synod member (a plain
 * and an `https://` ZooKeeper URL with `--zk-cert-file`, ... and the same test CA) run together.
 * Each repetition runs every load on both, in alternation (ZooKeeper first in odd repetitions,
 * Synod first in even ones):
 * - `connect plain` and `connect TLS`: `--connects` sessions one after another (over TLS with
 *   a client certificate): TCP, handshake, ConnectRequest, closeSession; the time each takes
 *   and the server's CPU per session;
 * - `getData plain` and `getData TLS`: `--sessions` sessions each reading one node in a loop
 *   for `--duration`; reads per second and the server's CPU per read.
 * Server CPU is user + system time from /proc/<pid>/stat before and after each load. Every
 * figure is printed as the median (min–max) over repetitions and as Synod ÷ ZooKeeper taken
 * within each repetition; the client (this process) shares the machine, so its CPU is printed
 * beside them.
 */
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type tls from 'node:tls';
import {parseArgs} from 'node:util';

import {parseDurationMs} from '@synod/bench';
import {ZooKeeperClient, freePorts, makeTestPki, startSynod, startZooKeeper} from '@synod/testing';

import {cpuSnapshot} from './bench-cluster.js';
import {median, spread} from './side-by-side.js';

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    connects: {type: 'string', default: '200'},
    duration: {type: 'string', default: '3s'},
    sessions: {type: 'string', default: '16'},
    help: {type: 'boolean', default: false},
  },
});
if (args.help) {
  console.log(
    'node --conditions=@synod/source --import tsx tools/zk-tls-bench.ts [--reps=3] [--connects=200] [--duration=3s] [--sessions=16]',
  );
  process.exit(0);
}
const reps = Number(args.reps);
const connects = Number(args.connects);
const durationMs = parseDurationMs(args.duration);
const sessions = Number(args.sessions);

interface Target {
  readonly name: 'zookeeper' | 'synod';
  readonly pid: () => number;
  readonly plain: number;
  readonly secure: number;
}

interface Figures {
  /** Per load: operations per second (connect: ms per session, p50) and server µs per op. */
  readonly rate: number;
  readonly cpuUs: number;
}

const host = '127.0.0.1';
const pki = makeTestPki();
const client = pki.client('bench');
const keyStore = join(pki.dir, 'zookeeper-keystore.pem');
writeFileSync(
  keyStore,
  readFileSync(pki.server.key, 'utf8') + readFileSync(pki.server.cert, 'utf8'),
);
const tlsOptions: tls.ConnectionOptions = {
  ca: readFileSync(pki.ca),
  cert: readFileSync(client.cert),
  key: readFileSync(client.key),
};

const [zkSecure = 0, synodPlain = 0, synodSecure = 0] = await freePorts(3);
const [zookeeper, synod] = await Promise.all([
  startZooKeeper({
    jvmFlags: [],
    extraConfig: [
      `secureClientPort=${zkSecure}`,
      `secureClientPortAddress=${host}`,
      'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
      `ssl.keyStore.location=${keyStore}`,
      'ssl.keyStore.type=PEM',
      `ssl.trustStore.location=${pki.ca}`,
      'ssl.trustStore.type=PEM',
      'ssl.clientAuth=need',
      'maxClientCnxns=0',
    ],
  }),
  startSynod({
    extraArgs: [
      `--listen-zk-urls=http://${host}:${synodPlain},https://${host}:${synodSecure}`,
      `--zk-cert-file=${pki.server.cert}`,
      `--zk-key-file=${pki.server.key}`,
      `--zk-trusted-ca-file=${pki.ca}`,
    ],
  }),
]);

const targets: Target[] = [
  {
    name: 'zookeeper',
    pid: () => zookeeper.servers[0]?.pid ?? 0,
    plain: zookeeper.servers[0]?.clientPort ?? 0,
    secure: zkSecure,
  },
  {name: 'synod', pid: () => synod.members[0]?.pid ?? 0, plain: synodPlain, secure: synodSecure},
];

function serverCpuSeconds(pid: number): number {
  return cpuSnapshot([pid]).get(pid) ?? Number.NaN;
}

async function connectLoad(target: Target, secure: boolean): Promise<Figures> {
  const cpu0 = serverCpuSeconds(target.pid());
  const times: number[] = [];
  for (let i = 0; i < connects; i++) {
    const start = performance.now();
    const c = await ZooKeeperClient.connect({
      host,
      port: secure ? target.secure : target.plain,
      keepAlive: false,
      ...(secure ? {tls: tlsOptions} : {}),
    });
    await c.close();
    times.push(performance.now() - start);
  }
  const cpu1 = serverCpuSeconds(target.pid());
  return {rate: median(times), cpuUs: ((cpu1 - cpu0) * 1e6) / connects};
}

async function readLoad(target: Target, secure: boolean): Promise<Figures> {
  const port = secure ? target.secure : target.plain;
  const open = () =>
    ZooKeeperClient.connect({host, port, keepAlive: false, ...(secure ? {tls: tlsOptions} : {})});
  const clients = await Promise.all(Array.from({length: sessions}, open));
  const path = '/zk-tls-bench';
  await clients[0]?.create(path, 'x'.repeat(64));
  const cpu0 = serverCpuSeconds(target.pid());
  const deadline = performance.now() + durationMs;
  let reads = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async c => {
      while (performance.now() < deadline) {
        const reply = await c.getData(path);
        if (reply.kind !== 'reply' || reply.err !== 0) throw new Error('getData failed');
        reads++;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpu1 = serverCpuSeconds(target.pid());
  await clients[0]?.delete(path);
  await Promise.all(clients.map(c => c.close()));
  return {rate: reads / elapsedS, cpuUs: ((cpu1 - cpu0) * 1e6) / reads};
}

const loads = {
  'connect plain': (t: Target) => connectLoad(t, false),
  'connect TLS': (t: Target) => connectLoad(t, true),
  'getData plain': (t: Target) => readLoad(t, false),
  'getData TLS': (t: Target) => readLoad(t, true),
} as const;
type LoadName = keyof typeof loads;

const results = new Map<string, Figures[]>();
const clientCpu0 = process.cpuUsage();
const wall0 = performance.now();
try {
  // Warm both (the JVM's JIT above all) before measuring.
  for (const t of targets) for (const load of Object.values(loads)) await load(t);
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? targets : [...targets].reverse();
    for (const name of Object.keys(loads) as LoadName[]) {
      for (const t of order) {
        const key = `${name}|${t.name}`;
        results.set(key, [...(results.get(key) ?? []), await loads[name](t)]);
      }
    }
  }
} finally {
  await zookeeper.stop();
  await synod.stop();
  pki.remove();
}
const clientCpu = process.cpuUsage(clientCpu0);
const clientCores = (clientCpu.user + clientCpu.system) / 1000 / (performance.now() - wall0);

console.log(
  `ZooKeeper over TLS, ${reps} repetitions, ${connects} connects, ${sessions} sessions × ${args.duration} of getData; median (min–max)`,
);
for (const name of Object.keys(loads) as LoadName[]) {
  const zk = results.get(`${name}|zookeeper`) ?? [];
  const sy = results.get(`${name}|synod`) ?? [];
  const unit = name.startsWith('connect') ? 'ms per session (p50)' : 'reads/s';
  const ratio = (pick: (f: Figures) => number) => sy.map((f, i) => pick(f) / pick(zk[i] ?? f));
  console.log(`\n${name}`);
  console.log(
    `  ${unit}: ZooKeeper ${spread(
      zk.map(f => f.rate),
      2,
    )}, Synod ${spread(
      sy.map(f => f.rate),
      2,
    )}, Synod ÷ ZooKeeper ${spread(
      ratio(f => f.rate),
      2,
    )}`,
  );
  console.log(
    `  server CPU µs/op: ZooKeeper ${spread(
      zk.map(f => f.cpuUs),
      1,
    )}, Synod ${spread(
      sy.map(f => f.cpuUs),
      1,
    )}, Synod ÷ ZooKeeper ${spread(
      ratio(f => f.cpuUs),
      2,
    )}`,
  );
}
for (const t of targets) {
  for (const load of ['connect', 'getData']) {
    const plain = results.get(`${load} plain|${t.name}`) ?? [];
    const secure = results.get(`${load} TLS|${t.name}`) ?? [];
    const overhead = secure.map((f, i) => f.cpuUs / (plain[i]?.cpuUs ?? Number.NaN));
    console.log(`${t.name}: TLS ÷ plain server CPU per ${load} ${spread(overhead, 2)}`);
  }
}
console.log(`\nclient (this process): ${clientCores.toFixed(2)} cores on average`);
