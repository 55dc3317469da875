import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';

import {KVDefinition, LeaseDefinition} from '@synod/proto';
import type {EtcdCluster} from '@synod/testing';
import {etcdSkipReason, startEtcd, startSynod, waitFor} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import type {Channel} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {CtlResult} from './differential/etcdctl.js';
import {etcdctlSkipReason, runCtl} from './differential/etcdctl.js';

/*
 * Live migration with `etcdctl make-mirror`, from etcd into Synod and from Synod into etcd,
 * following the cut-over procedure of docs/operations.md step by step with the same etcdctl
 * commands:
 *
 *   1. keys are already there when the mirror starts (its first pass copies them);
 *   2. `etcdctl make-mirror --prefix=<p> <destination>` runs while writers put, delete, run
 *      txns of several operations in one revision, delete ranges, attach keys to leases, and
 *      let a lease expire;
 *   3. the writers stop; `etcdctl endpoint status` shows the source's revision no longer moves;
 *   4. `etcdctl get --prefix <p>` prints the same keys and values on both sides once the
 *      mirror has caught up;
 *   5. the mirror is stopped (by pid) and clients would switch.
 *
 * What make-mirror does not carry is checked too: the copies have no lease and revisions of
 * their own, so only a listing of keys and values can compare the two sides.
 */

/** How long the writers run while the mirror copies. */
const writeLoadMs = 3000;
const writers = 4;
/**
 * Keys written before the mirror starts. From Synod more than the 1,000 keys make-mirror reads
 * a page at a time, since Synod's paging is what is in question; from etcd fewer, since each one
 * costs the mirror a put of its own, one at a time, into Synod.
 */
const baseKeys = {etcd: 200, Synod: 1050} as const;
const bulkKeys = 150;
/**
 * What both servers are started with: a destination must take a txn with as many operations
 * as the source's largest revision has events.
 */
const maxTxnOps = 1024;

type KVClient = ReturnType<typeof createClient<typeof KVDefinition>>;

/** Puts `count` keys under `prefix` in txns of 75 puts; returns the number of txns. */
async function putMany(kv: KVClient, prefix: string, count: number): Promise<number> {
  let txns = 0;
  for (let from = 0; from < count; from += 75) {
    const success = [];
    for (let i = from; i < Math.min(count, from + 75); i++) {
      const key = Buffer.from(`${prefix}${String(i).padStart(5, '0')}`);
      success.push({request: {$case: 'requestPut' as const, value: {key, value: key}}});
    }
    await kv.txn({success});
    txns++;
  }
  return txns;
}

/** What differs between two `etcdctl get --prefix` listings, in a few words. */
function differences(source: string, destination: string): string {
  const pairs = (listing: string): Map<string, string> => {
    const lines = listing.split('\n');
    const map = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i]!, lines[i + 1]!);
    return map;
  };
  const [there, here] = [pairs(source), pairs(destination)];
  const missing = [...there.keys()].filter(k => !here.has(k));
  const extra = [...here.keys()].filter(k => !there.has(k));
  const changed = [...there.keys()].filter(k => here.has(k) && here.get(k) !== there.get(k));
  return (
    `${there.size} keys at the source, ${here.size} at the destination; ` +
    `missing ${missing.length} (${missing.slice(0, 5).join(' ')}), ` +
    `extra ${extra.length} (${extra.slice(0, 5).join(' ')}), ` +
    `other value ${changed.length} (${changed.slice(0, 5).join(' ')})`
  );
}

function ok(result: CtlResult, what: string): string {
  if (result.code !== 0) throw new Error(`etcdctl ${what} failed: ${result.stderr}`);
  return result.stdout;
}

/** A running `etcdctl make-mirror`: its process and what it has printed. */
interface Mirror {
  readonly child: ChildProcess;
  output: string;
}

/**
 * Starts `etcdctl make-mirror` from `source` into `destination` (etcdctl 3.4 takes the
 * destination as an argument; 3.5 takes it the same way).
 */
function startMirror(source: string, destination: string, prefix: string): Mirror {
  const child = spawn(
    process.env.ETCDCTL_BIN ?? 'etcdctl',
    [`--endpoints=${source}`, 'make-mirror', `--prefix=${prefix}`, destination],
    {env: {...process.env, ETCDCTL_API: '3'}, stdio: ['ignore', 'pipe', 'pipe']},
  );
  const mirror: Mirror = {child, output: ''};
  // If the test process dies first, the mirror must not outlive it.
  const killOnExit = (): void => {
    if (child.pid !== undefined && mirrorRunning(mirror)) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const keep = (chunk: Buffer): void => {
    mirror.output = (mirror.output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return mirror;
}

const mirrorRunning = (mirror: Mirror): boolean =>
  mirror.child.exitCode === null && mirror.child.signalCode === null;

/** Stops the mirror by its pid and waits until it has exited. */
async function stopMirror(mirror: Mirror): Promise<void> {
  const pid = mirror.child.pid;
  if (pid === undefined || !mirrorRunning(mirror)) return;
  const exited = new Promise(resolve => mirror.child.once('exit', resolve));
  process.kill(pid, 'SIGTERM');
  await exited;
}

/**
 * One writer's share of the load, until `until`: a txn of three puts and a delete (four events
 * in one revision), a put, a delete, a put under the writer's lease, a range delete. Returns
 * how many requests it made.
 */
async function write(
  channel: Channel,
  prefix: string,
  writer: number,
  leaseId: bigint,
  until: number,
): Promise<number> {
  const kv = createClient(KVDefinition, channel);
  const key = (n: number): Buffer =>
    Buffer.from(`${prefix}w${writer}/${String(n % 40).padStart(2, '0')}`);
  const value = (step: number): Buffer =>
    Buffer.from(`value ${writer}.${step} ${'x'.repeat(step % 64)}`);
  let step = 0;
  while (Date.now() < until) {
    switch (step % 5) {
      case 0:
        await kv.txn({
          success: [
            ...[1, 2, 3].map(i => ({
              request: {
                $case: 'requestPut' as const,
                value: {key: key(step + i), value: value(step)},
              },
            })),
            {request: {$case: 'requestDeleteRange' as const, value: {key: key(step + 7)}}},
          ],
        });
        break;
      case 1:
        await kv.put({key: key(step), value: value(step)});
        break;
      case 2:
        await kv.deleteRange({key: key(step * 3)});
        break;
      case 3:
        await kv.put({key: key(step), value: value(step), lease: leaseId});
        break;
      default:
        await kv.deleteRange({key: key(10), rangeEnd: key(14)});
    }
    step++;
  }
  return step;
}

describe.skipIf(etcdSkipReason !== undefined || etcdctlSkipReason !== undefined)(
  'live migration with etcdctl make-mirror, under write load',
  () => {
    let etcd: EtcdCluster | undefined;
    let synod: EtcdCluster | undefined;
    const mirrors: Mirror[] = [];

    beforeAll(async () => {
      const options = {extraArgs: [`--max-txn-ops=${maxTxnOps}`]};
      [etcd, synod] = await Promise.all([startEtcd(options), startSynod(options)]);
    }, 30_000);

    afterAll(async () => {
      await Promise.all(mirrors.map(stopMirror));
      await Promise.all([etcd?.stop(), synod?.stop()]);
    });

    it.each([
      {from: 'etcd' as const, to: 'Synod'},
      {from: 'Synod' as const, to: 'etcd'},
    ])(
      'mirrors $from into $to, and the two sides list the same keys after cut-over',
      async ({from}) => {
        const [source, destination] =
          from === 'etcd'
            ? [etcd!.endpoints[0]!, synod!.endpoints[0]!]
            : [synod!.endpoints[0]!, etcd!.endpoints[0]!];
        const sourceAddress = source.replace(/^http:\/\//, '');
        const prefix = `/app-from-${from.toLowerCase()}/`;
        const channel = createChannel(sourceAddress);
        const kv = createClient(KVDefinition, channel);
        const lease = createClient(LeaseDefinition, channel);
        try {
          // 1. What is there before the mirror starts: its first pass copies it.
          await putMany(kv, `${prefix}base/`, baseKeys[from]);
          const kept = await lease.leaseGrant({TTL: 600n, ID: 0n});
          await kv.put({
            key: Buffer.from(`${prefix}leased`),
            value: Buffer.from('v'),
            lease: kept.ID,
          });
          // Outside the prefix: the mirror must leave it alone.
          await kv.put({
            key: Buffer.from(`/elsewhere-${from}`),
            value: Buffer.from('not mirrored'),
          });

          // 2. The mirror, and writers while it runs.
          const mirror = startMirror(source, destination, prefix);
          mirrors.push(mirror);
          const shortLived = await lease.leaseGrant({TTL: 1n, ID: 0n});
          await kv.put({
            key: Buffer.from(`${prefix}expires`),
            value: Buffer.from('soon'),
            lease: shortLived.ID,
          });
          const writerLeases = await Promise.all(
            Array.from({length: writers}, () => lease.leaseGrant({TTL: 600n, ID: 0n})),
          );
          const until = Date.now() + writeLoadMs;
          const requests = await Promise.all([
            ...writerLeases.map((l, w) => write(channel, prefix, w, l.ID, until)),
            putMany(kv, `${prefix}bulk/`, bulkKeys),
          ]);
          expect(requests.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
          // One revision with more events than a txn may have by default (128): the mirror
          // writes it as one txn, which the destination takes with --max-txn-ops raised.
          const bulk = await kv.deleteRange({
            key: Buffer.from(`${prefix}bulk/`),
            rangeEnd: Buffer.from(`${prefix}bulk0`),
          });
          expect(bulk.deleted).toBe(BigInt(bulkKeys));
          // A revoked lease deletes its keys: the mirror carries the deletions.
          await lease.leaseRevoke({ID: writerLeases[0]!.ID});
          await waitFor(
            async () => (await kv.range({key: Buffer.from(`${prefix}expires`)})).count === 0n,
            10_000,
            'the 1 s lease to expire',
          );
          expect(mirrorRunning(mirror), mirror.output).toBe(true);

          // 3. Writers stopped: the source's revision stays where it is.
          const revision = async (): Promise<number> =>
            (
              JSON.parse(
                ok(await runCtl(source, ['endpoint', 'status', '-w', 'json']), 'endpoint status'),
              ) as {Status: {header: {revision: number}}}[]
            )[0]!.Status.header.revision;
          const stoppedAt = await revision();

          // 4. The mirror has caught up when both sides list the same keys and values.
          const listing = async (endpoint: string): Promise<string> =>
            ok(await runCtl(endpoint, ['get', '--prefix', prefix]), 'get --prefix');
          const sourceListing = await listing(source);
          let destinationListing = '';
          await waitFor(
            async () => (destinationListing = await listing(destination)) === sourceListing,
            15_000,
            'the mirror to catch up',
          ).catch((error: unknown) => {
            throw new Error(
              `${String(error)}: ${differences(sourceListing, destinationListing)}; ` +
                `the mirror printed: ${mirror.output}`,
            );
          });
          expect(await revision()).toBe(stoppedAt);
          expect(mirrorRunning(mirror), mirror.output).toBe(true);

          // The same comparison, in JSON: keys and values agree; leases and revisions do not
          // travel (the mirror puts each value again, without a lease, at the destination's
          // revisions).
          const json = async (endpoint: string) =>
            (
              JSON.parse(
                ok(
                  await runCtl(endpoint, ['get', '--prefix', prefix, '-w', 'json']),
                  'get -w json',
                ),
              ) as {kvs?: {key: string; value: string; lease?: number; mod_revision: number}[]}
            ).kvs ?? [];
          const [there, here] = await Promise.all([json(source), json(destination)]);
          expect(here.map(k => [k.key, k.value])).toEqual(there.map(k => [k.key, k.value]));
          expect(here.length).toBeGreaterThan(100);
          const leased = (list: typeof here) =>
            list.find(k => Buffer.from(k.key, 'base64').toString() === `${prefix}leased`);
          expect(leased(there)?.lease).toBeDefined();
          expect(leased(here)?.lease).toBeUndefined();
          expect(here.filter(k => k.lease !== undefined)).toEqual([]);
          expect(here.map(k => k.mod_revision)).not.toEqual(there.map(k => k.mod_revision));
          const elsewhere = ok(
            await runCtl(destination, ['get', `/elsewhere-${from}`, '-w', 'json']),
            'get',
          );
          expect((JSON.parse(elsewhere) as {count?: number}).count ?? 0).toBe(0);

          // 5. Cut-over: the mirror stops, and the copies of keys that hold a lease at the
          // source are deleted at the destination (where nothing would ever expire them: a
          // lock or election key left there would block its next holder for good); their
          // owners put them again, under leases of the new cluster, once they move.
          await stopMirror(mirror);
          const leaseIds = ok(await runCtl(source, ['lease', 'list']), 'lease list')
            .split('\n')
            .filter(line => /^[0-9a-f]+$/.test(line));
          const leasedKeys: string[] = [];
          for (const id of leaseIds) {
            const ttl = ok(
              await runCtl(source, ['lease', 'timetolive', id, '--keys', '-w', 'json']),
              'lease timetolive',
            );
            const keys = (JSON.parse(ttl) as {keys?: string[]}).keys ?? [];
            leasedKeys.push(...keys.map(k => Buffer.from(k, 'base64').toString()));
          }
          expect(leasedKeys).toContain(`${prefix}leased`);
          for (const key of leasedKeys) ok(await runCtl(destination, ['del', key]), 'del');
          const left = (await json(destination)).map(k => Buffer.from(k.key, 'base64').toString());
          expect(left.filter(k => leasedKeys.includes(k))).toEqual([]);
          expect(left).toHaveLength(here.length - leasedKeys.length);
        } finally {
          channel.close();
        }
      },
      30_000,
    );
  },
);
