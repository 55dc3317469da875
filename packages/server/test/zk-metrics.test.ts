import {connect} from 'node:net';

import type {EtcdCluster} from '@synod/testing';
import {
  CreateMode,
  ZooKeeperClient,
  fourLetterWord,
  freePorts,
  startSynod,
  waitFor,
} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/** `mntr`'s figure and the `/metrics` sample that must equal it. */
const PAIRS: readonly (readonly [string, string])[] = [
  ['zk_znode_count', 'synod_zk_znode_count'],
  ['zk_watch_count', 'synod_zk_watch_count'],
  ['zk_ephemerals_count', 'synod_zk_ephemerals_count'],
  ['zk_approximate_data_size', 'synod_zk_approximate_data_size_bytes'],
  ['zk_global_sessions', 'synod_zk_global_sessions'],
  ['zk_outstanding_requests', 'synod_zk_outstanding_requests'],
  ['zk_packets_received', 'synod_zk_packets_received_total'],
  ['zk_packets_sent', 'synod_zk_packets_sent_total'],
  ['zk_min_latency', 'synod_zk_min_latency_ms'],
  ['zk_avg_latency', 'synod_zk_avg_latency_ms'],
  ['zk_max_latency', 'synod_zk_max_latency_ms'],
];

function mntr(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('mntr');
    });
    let out = '';
    socket.on('data', d => {
      out += d.toString();
    });
    socket.on('end', () => {
      const figures = new Map<string, number>();
      for (const line of out.split('\n')) {
        const [key, value] = line.split('\t');
        if (key !== undefined && value !== undefined) figures.set(key, Number(value));
      }
      resolve(figures);
    });
    socket.on('error', reject);
  });
}

async function scrape(clientUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${clientUrl}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(synod_zk_\w+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined && match[2] === undefined) samples.set(match[1], Number(match[3]));
  }
  return samples;
}

/** Both views, with no ZooKeeper traffic between them but the `mntr` connection itself. */
async function bothViews(port: number, clientUrl: string) {
  const fromMntr = await mntr(port);
  // The connection that asks `mntr` is counted while it is open, as ZooKeeper counts it; the
  // member sees it close a moment after the answer.
  const othersOpen = (fromMntr.get('zk_num_alive_connections') ?? 0) - 1;
  let fromMetrics = new Map<string, number>();
  await waitFor(async () => {
    fromMetrics = await scrape(clientUrl);
    return fromMetrics.get('synod_zk_alive_connections') === othersOpen;
  });
  for (const [figure, metric] of PAIRS) {
    // mntr's own answer is a packet sent once it is written, as ZooKeeper counts it.
    const sentSince = figure === 'zk_packets_sent' ? 1 : 0;
    const shown = fromMntr.get(figure);
    expect({[metric]: fromMetrics.get(metric)}).toEqual({
      [metric]: shown === undefined ? undefined : shown + sentSince,
    });
  }
  return {mntr: fromMntr, metrics: fromMetrics};
}

describe("a member's /metrics and mntr report the same ZooKeeper figures", () => {
  let cluster: EtcdCluster;
  let port: number;
  let clientUrl: string;
  const clients: ZooKeeperClient[] = [];
  // No pings: the figures must not move between the two reads.
  const open = async () => {
    const c = await ZooKeeperClient.connect({host: '127.0.0.1', port, keepAlive: false});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    [port = 0] = await freePorts(1);
    cluster = await startSynod({extraArgs: [`--listen-zk-urls=http://127.0.0.1:${port}`]});
    clientUrl = cluster.endpoints[0] ?? '';
    // The client port is healthy first; the ZooKeeper listener opens a moment later.
    await waitFor(async () => {
      try {
        await mntr(port);
        return true;
      } catch {
        return false;
      }
    });
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster.stop();
  });

  it('counts znodes, ephemerals, data, watches and sessions as a client makes them', async () => {
    // The first session makes the tree's `/zookeeper` nodes: count from after it.
    const owner = await open();
    const watcher = await open();
    const before = await bothViews(port, clientUrl);
    expect(before.mntr.get('zk_ephemerals_count')).toBe(0);
    expect(before.mntr.get('zk_watch_count')).toBe(0);
    expect(before.mntr.get('zk_global_sessions')).toBe(2);
    expect(await owner.create('/app', 'config')).toMatchObject({err: 0});
    expect(await owner.create('/app/a', 'hello')).toMatchObject({err: 0});
    expect(await owner.create('/app/e1', 'x', CreateMode.ephemeral)).toMatchObject({err: 0});
    expect(await owner.create('/app/e2', '', CreateMode.ephemeral)).toMatchObject({err: 0});
    expect(await watcher.exists('/app/a', true)).toMatchObject({err: 0});
    expect(await watcher.getData('/app/e1', true)).toMatchObject({err: 0});
    expect(await watcher.getChildren('/app', true)).toMatchObject({err: 0});

    const after = await bothViews(port, clientUrl);
    const grew = (figure: string) => (after.mntr.get(figure) ?? 0) - (before.mntr.get(figure) ?? 0);
    expect(grew('zk_znode_count')).toBe(4);
    expect(after.mntr.get('zk_ephemerals_count')).toBe(2);
    expect(after.mntr.get('zk_watch_count')).toBe(3);
    expect(grew('zk_global_sessions')).toBe(0);
    expect(after.metrics.get('synod_zk_alive_connections')).toBe(2);
    const sizes = ['/app', 'config', '/app/a', 'hello', '/app/e1', 'x', '/app/e2', ''];
    expect(grew('zk_approximate_data_size')).toBe(sizes.join('').length);
    // Seven requests, each answered with one packet.
    expect(grew('zk_packets_received')).toBeGreaterThanOrEqual(7);
    expect(grew('zk_packets_sent')).toBeGreaterThanOrEqual(7);
    // Every answered request is in the histogram that mntr's min/avg/max summarise.
    expect(after.metrics.get('synod_zk_request_latency_seconds_count')).toBeGreaterThanOrEqual(7);

    const text = await (await fetch(`${clientUrl}/metrics`)).text();
    expect(text).toContain('# TYPE synod_zk_packets_sent_total counter');
    expect(text).toContain('# TYPE synod_zk_request_latency_seconds histogram');
  });

  it("drops a closed session's ephemerals and watches from both", async () => {
    const owner = clients[0];
    const watcher = clients[1];
    if (owner === undefined || watcher === undefined) throw new Error('run with the first test');
    const before = await bothViews(port, clientUrl);
    expect(await owner.close()).toMatchObject({err: 0});
    watcher.disconnect();
    await waitFor(async () => (await scrape(clientUrl)).get('synod_zk_alive_connections') === 0);
    const after = await bothViews(port, clientUrl);
    expect(after.mntr.get('zk_ephemerals_count')).toBe(0);
    expect(after.mntr.get('zk_watch_count')).toBe(0);
    expect((before.mntr.get('zk_znode_count') ?? 0) - (after.mntr.get('zk_znode_count') ?? 0)).toBe(
      2,
    );
    expect(
      (before.mntr.get('zk_global_sessions') ?? 0) - (after.mntr.get('zk_global_sessions') ?? 0),
    ).toBe(1);
  });

  it("srst starts mntr's figures again while /metrics' packet counters go on", async () => {
    const before = await scrape(clientUrl);
    expect(await fourLetterWord('127.0.0.1', port, 'srst')).toBe('Server stats reset.\n');
    const shown = await mntr(port);
    // mntr's own packet received, and srst's answer, sent after the reset.
    expect(shown.get('zk_packets_received')).toBe(1);
    expect(shown.get('zk_packets_sent')).toBe(1);
    expect(shown.get('zk_max_latency')).toBe(0);
    const after = await scrape(clientUrl);
    for (const counter of ['synod_zk_packets_received_total', 'synod_zk_packets_sent_total']) {
      expect(after.get(counter)).toBeGreaterThan(before.get(counter) ?? Infinity);
    }
  });
});
