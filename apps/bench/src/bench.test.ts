import {KVDefinition} from '@synod/proto';
import {startSynod} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {prefixEnd} from './key-source.js';
import {parseOptions} from './options.js';
import {runBench} from './run.js';

describe('synod-bench against a real Synod member', () => {
  let cluster: EtcdCluster;
  let endpoint: string;

  beforeAll(async () => {
    cluster = await startSynod();
    endpoint = cluster.members[0]!.clientAddress;
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('put: runs exactly --total puts, all of them land, none fails', async () => {
    const options = parseOptions([
      'put',
      `--endpoints=${endpoint}`,
      '--clients=8',
      '--conns=2',
      '--total=200',
      '--key-space=200',
      '--sequential-keys',
      '--prefix=/put-test/',
    ]);
    const result = await runBench(options);
    expect(result.ops).toBe(200);
    expect(result.errors).toEqual({});
    expect(result.latencies.put?.count).toBe(200);
    expect(result.latencies.put?.minNs).toBeGreaterThan(0);

    const channel = createChannel(endpoint);
    try {
      const prefix = Buffer.from('/put-test/');
      const kv = createClient(KVDefinition, channel);
      const count = await kv.range({key: prefix, rangeEnd: prefixEnd(prefix), countOnly: true});
      expect(count.count).toBe(200n);
    } finally {
      channel.close();
    }
  });

  it('watch: every watcher sees every put exactly once and in order', async () => {
    const options = parseOptions([
      'watch',
      `--endpoints=${endpoint}`,
      '--watchers=5',
      '--clients=4',
      '--rate=200',
      '--total=100',
      '--prefix=/watch-test/',
    ]);
    const result = await runBench(options);
    expect(result.violations).toEqual([]);
    expect(result.errors).toEqual({});
    expect(result.ops).toBe(100);
    // Each of the 5 watchers saw the 100 puts and the end marker.
    expect(result.counters.watchEvents).toBe(5 * 101);
    expect(result.latencies.delivery?.count).toBe(5 * 100);
  });

  it('splits the load over two worker processes and merges what they measured', async () => {
    const options = parseOptions([
      'put',
      `--endpoints=${endpoint}`,
      '--clients=4',
      '--conns=2',
      '--total=100',
      '--workers=2',
      '--prefix=/workers-test/',
    ]);
    const result = await runBench(options);
    expect(result.ops).toBe(100);
    expect(result.errors).toEqual({});
    expect(result.latencies.put?.count).toBe(100);
    // Two workers and the parent, each of which used some CPU.
    expect(result.processes).toBe(3);
    expect(result.cpuUserUs).toBeGreaterThan(0);
  });
});
