import {firstValueFrom} from 'rxjs';
import type {Subscription} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readMetric} from '@synod/testing';
import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {sleep, waitFor} from '@synod/testing';
import {createClient} from './etcd.js';
import type {Etcd} from './etcd.js';
import {CompactedError} from './errors.js';
import {op} from './ops.js';
import type {WatchBatch, WatchEvent} from './watch-manager.js';

const describeEvent = (e: WatchEvent): string => `${e.type} ${e.kv.keyString}@${e.kv.modRevision}`;

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Watch against one member: $name',
  ({start}) => {
    let cluster: EtcdCluster;
    let client: Etcd;

    beforeAll(async () => {
      // A small request limit makes etcd fragment large watch responses (above the limit
      // plus 512 KiB), so that joining fragments is exercised at a modest size.
      cluster = await start({extraArgs: ['--max-request-bytes=4096']});
      client = createClient({endpoints: cluster.endpoints});
    });
    afterAll(async () => {
      client.close();
      await cluster.stop();
    });

    it('delivers events in revision order, a txn as one batch, with prevKv', async () => {
      const batches: WatchBatch[] = [];
      const subscription = client.watch
        .watch$({prefix: 'o/'}, {prevKv: true})
        .subscribe(b => batches.push(b));
      await client.kv.put('o/warmup', '0'); // the watch may be created after this; later writes count
      await waitFor(
        async () =>
          (await readMetric(cluster.endpoints[0]!, 'etcd_debugging_mvcc_watcher_total')) === 1,
      );
      const first = await client.kv.put('o/a', '1');
      await client.kv.put('o/a', '2');
      await client.kv.txn().then(op.put('o/b', 'x'), op.put('o/c', 'y')).commit();
      const last = await client.kv.delete('o/a');
      await waitFor(() => batches.some(b => b.events.some(e => e.type === 'delete')));
      subscription.unsubscribe();
      const events = batches
        .flatMap(b => b.events)
        .filter(e => e.kv.modRevision >= first.header.revision);
      const r = first.header.revision;
      expect(events.map(describeEvent)).toEqual([
        `put o/a@${r}`,
        `put o/a@${r + 1n}`,
        `put o/b@${r + 2n}`,
        `put o/c@${r + 2n}`,
        `delete o/a@${last.header.revision}`,
      ]);
      expect(events[1]?.prevKv?.valueString).toBe('1');
      expect(events[4]?.prevKv?.valueString).toBe('2');
      // A txn's events arrive in one response, in order. That response may hold other
      // revisions too: a watcher that fell behind gets what it missed joined (etcd does so).
      const txnBatch = batches.find(b => b.events.some(e => e.kv.keyString === 'o/b'));
      const keys = txnBatch?.events.map(e => e.kv.keyString) ?? [];
      const at = keys.indexOf('o/b');
      expect(keys.slice(at, at + 2)).toEqual(['o/b', 'o/c']);
    });

    it('replays history from startRevision and applies filters', async () => {
      const a = await client.kv.put('h/a', '1');
      await client.kv.delete('h/a');
      await client.kv.put('h/b', '2');
      const iterator = client.watch.watch(
        {prefix: 'h/'},
        {startRevision: a.header.revision, filters: ['noDelete']},
      );
      const seen: string[] = [];
      for await (const batch of iterator) {
        seen.push(...batch.events.map(describeEvent));
        if (seen.length >= 2) break;
      }
      expect(seen).toEqual([`put h/a@${a.header.revision}`, `put h/b@${a.header.revision + 2n}`]);
    });

    it('reports a compacted start revision as CompactedError with the compact revision', async () => {
      const old = await client.kv.put('cw/a', '1');
      const latest = await client.kv.put('cw/a', '2');
      await client.kv.compact(latest.header.revision);
      const error = await firstValueFrom(
        client.watch.watch$('cw/a', {startRevision: old.header.revision}),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CompactedError);
      expect((error as CompactedError).compactRevision).toBe(latest.header.revision);
    });

    it('multiplexes every watch on one stream and closes it when the last leaves', async () => {
      const url = cluster.endpoints[0]!;
      await waitFor(
        async () => (await readMetric(url, 'etcd_debugging_mvcc_watch_stream_total')) === 0,
      );
      const subscriptions: Subscription[] = ['m/1', 'm/2', {prefix: 'm/'}].map(key =>
        client.watch.watch$(key).subscribe(),
      );
      await waitFor(async () => (await readMetric(url, 'etcd_debugging_mvcc_watcher_total')) === 3);
      expect(await readMetric(url, 'etcd_debugging_mvcc_watch_stream_total')).toBe(1);
      subscriptions[0]?.unsubscribe();
      await waitFor(async () => (await readMetric(url, 'etcd_debugging_mvcc_watcher_total')) === 2);
      expect(await readMetric(url, 'etcd_debugging_mvcc_watch_stream_total')).toBe(1);
      for (const s of subscriptions) s.unsubscribe();
      await waitFor(
        async () => (await readMetric(url, 'etcd_debugging_mvcc_watch_stream_total')) === 0,
      );
      expect(await readMetric(url, 'etcd_debugging_mvcc_watcher_total')).toBe(0);
    });

    it('shares one server watch between subscribers of one Observable', async () => {
      const url = cluster.endpoints[0]!;
      const watch$ = client.watch.watch$('share/k');
      const a = watch$.subscribe();
      const b = watch$.subscribe();
      await waitFor(async () => (await readMetric(url, 'etcd_debugging_mvcc_watcher_total')) === 1);
      a.unsubscribe();
      b.unsubscribe();
      await waitFor(async () => (await readMetric(url, 'etcd_debugging_mvcc_watcher_total')) === 0);
    });

    it('watches inside a namespace only, with the prefix stripped', async () => {
      const app = client.namespace('wns/');
      const start = await client.kv.put('wns-outside', 'x');
      const iterator = app.watch.watch({prefix: ''}, {startRevision: start.header.revision});
      await client.kv.put('wns', 'prefix itself without slash');
      await app.kv.put('k', 'v');
      const batch = await iterator.next();
      await iterator.return?.();
      expect(batch.done).toBe(false);
      expect((batch.value as WatchBatch).events.map(e => e.kv.keyString)).toEqual(['k']);
    });

    it('joins fragmented responses into whole batches', async () => {
      const start = await client.kv.put('frag/start', '');
      const value = 'v'.repeat(100);
      const txns = 240;
      const perTxn = 25; // stays under the 4 KiB request limit
      for (let t = 0; t < txns; t++) {
        const puts = Array.from({length: perTxn}, (_, i) => op.put(`frag/${t}/${i}`, value));
        await client.kv
          .txn()
          .then(...puts)
          .commit();
      }
      const seen: WatchEvent[] = [];
      let batches = 0;
      for await (const batch of client.watch.watch(
        {prefix: 'frag/'},
        {startRevision: start.header.revision + 1n, fragment: true},
      )) {
        batches++;
        seen.push(...batch.events);
        if (seen.length >= txns * perTxn) break;
      }
      expect(seen).toHaveLength(txns * perTxn);
      const revisions = seen.map(e => e.kv.modRevision);
      expect(revisions[0]).toBe(start.header.revision + 1n);
      expect(revisions.at(-1)).toBe(start.header.revision + BigInt(txns));
      expect(revisions.every((r, i) => i === 0 || r >= (revisions[i - 1] ?? 0n))).toBe(true);
      // The catch-up comes in at most a few batches (one per server response before
      // fragmenting), never one per fragment.
      expect(batches).toBeLessThanOrEqual(3);
    });

    it('delivers a requested progress notification', async () => {
      const url = cluster.endpoints[0]!;
      const latest = await client.kv.put('progress/other', 'x');
      const batches: WatchBatch[] = [];
      const subscription = client.watch.watch$('progress/quiet').subscribe(b => batches.push(b));
      await waitFor(async () => (await readMetric(url, 'etcd_debugging_mvcc_watcher_total')) === 1);
      client.watch.requestProgress();
      await waitFor(() => batches.length > 0);
      subscription.unsubscribe();
      expect(batches[0]?.progressNotify).toBe(true);
      expect(batches[0]?.events).toEqual([]);
      expect(batches[0]?.header.revision).toBeGreaterThanOrEqual(latest.header.revision);
    });

    it('stops an async iteration when its signal aborts', async () => {
      const controller = new AbortController();
      const iterator = client.watch.watch('abort/k', {signal: controller.signal});
      const pending = iterator.next();
      controller.abort();
      await expect(pending).rejects.toMatchObject({name: 'AbortError'});
    });
  },
);

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Watch across a member crash: $name',
  ({start}) => {
    let cluster: EtcdCluster;

    beforeAll(async () => {
      cluster = await start({members: 3});
    });
    afterAll(async () => {
      await cluster.stop();
    });

    it('resumes on another member and sees every revision exactly once, in order', async () => {
      // Crash a follower: the watcher's member goes away while the cluster keeps its leader,
      // so writes go on without waiting out an election.
      const probe = createClient({endpoints: cluster.endpoints});
      const statuses = await Promise.all(
        cluster.members.map(m => probe.maintenance.status({endpoint: m.clientUrl})),
      );
      probe.close();
      const followerIndex = statuses.findIndex(s => s.leader !== s.header?.memberId);
      const a = cluster.members[followerIndex]!;
      const others = cluster.members.filter(m => m !== a);
      const watcherClient = createClient({
        endpoints: [a.clientUrl, ...others.map(m => m.clientUrl)],
        retry: {maxBackoffMs: 200},
      });
      // The writer never talks to A, so its writes go on while A is down.
      const writer = createClient({endpoints: others.map(m => m.clientUrl)});
      try {
        const start = await writer.kv.put('crash/start', '0');
        const seen: WatchEvent[] = [];
        const subscription = watcherClient.watch
          .watch$({prefix: 'crash/'}, {startRevision: start.header.revision + 1n})
          .subscribe(batch => seen.push(...batch.events));
        await waitFor(
          async () => (await readMetric(a.clientUrl, 'etcd_debugging_mvcc_watcher_total')) === 1,
        );
        expect(watcherClient.currentEndpoint).toBe(a.clientUrl);

        const total = 120;
        for (let i = 0; i < total; i++) {
          if (i === total / 2) await a.kill('SIGKILL');
          // retry: a write the crash interrupts may land twice; the history below shows it.
          await writer.kv.put(`crash/${i % 7}`, `${i}`, {retry: true});
        }
        const end = await writer.kv.put('crash/end', 'done');
        await waitFor(() => seen.some(e => e.kv.keyString === 'crash/end'), 15_000);
        subscription.unsubscribe();
        expect(watcherClient.currentEndpoint).not.toBe(a.clientUrl);

        // The full history, read afterwards from a fresh watch on a surviving member.
        const history: WatchEvent[] = [];
        for await (const batch of writer.watch.watch(
          {prefix: 'crash/'},
          {startRevision: start.header.revision + 1n},
        )) {
          history.push(...batch.events);
          if (history.some(e => e.kv.modRevision === end.header.revision)) break;
        }
        expect(history.length).toBeGreaterThanOrEqual(total + 1);
        expect(seen.map(describeEvent)).toEqual(history.map(describeEvent));
        const revisions = seen.map(e => e.kv.modRevision);
        expect(new Set(revisions).size).toBe(revisions.length);
        expect(revisions).toEqual([...revisions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      } finally {
        watcherClient.close();
        writer.close();
      }
    });

    it('resumes after its member loses and regains the leader', async () => {
      for (const m of cluster.members) if (!m.running) await m.restart();
      const [own, ...others] = cluster.members;
      const watcherClient = createClient({endpoints: [own!.clientUrl], retry: {maxBackoffMs: 200}});
      const writer = createClient({endpoints: others.map(m => m.clientUrl)});
      try {
        const start = await writer.kv.put('nl/start', '0');
        const seen: WatchEvent[] = [];
        const subscription = watcherClient.watch
          .watch$({prefix: 'nl/'}, {startRevision: start.header.revision + 1n})
          .subscribe(batch => seen.push(...batch.events));
        const before = await writer.kv.put('nl/a', '1');
        await waitFor(() => seen.length === 1);
        const streamsBefore = await readMetric(
          own!.clientUrl,
          'grpc_server_started_total',
          'grpc_method="Watch",grpc_service="etcdserverpb.Watch"',
        );
        // Without the other two members, `own` has no leader: etcd ends streams that asked for
        // one (hasleader) after three election timeouts, counted from when it notices the loss,
        // on a periodic check: 2.2 s was sometimes too short on a loaded machine.
        await Promise.all(others.map(m => m.kill('SIGKILL')));
        await sleep(4000);
        await Promise.all(others.map(m => m.restart()));
        const after = await writer.kv.put('nl/b', '2', {retry: true});
        await waitFor(() => seen.some(e => e.kv.keyString === 'nl/b'), 10_000);
        subscription.unsubscribe();
        expect(seen.map(describeEvent)).toEqual([
          `put nl/a@${before.header.revision}`,
          `put nl/b@${after.header.revision}`,
        ]);
        // The watch came back on a new stream.
        const streamsAfter = await readMetric(
          own!.clientUrl,
          'grpc_server_started_total',
          'grpc_method="Watch",grpc_service="etcdserverpb.Watch"',
        );
        expect(streamsAfter).toBeGreaterThan(streamsBefore ?? 0);
      } finally {
        watcherClient.close();
        writer.close();
      }
    });
  },
);
