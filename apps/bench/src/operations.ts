import {Compare_CompareResult, Compare_CompareTarget, LeaseKeepAliveRequest} from '@synod/proto';
import type {LeaseKeepAliveResponse} from '@synod/proto';

import {AsyncQueue} from './async-queue.js';
import {checkPerfKeySize, checkPerfValueSize} from './check-perf.js';
import type {Operation} from './closed-loop.js';
import type {Connections} from './connections.js';
import {KeySource} from './key-source.js';
import type {BenchOptions} from './options.js';
import type {Recorder} from './result.js';
import type {WorkerShare} from './share.js';

/** The request loop body for every workload but `watch`. */
export function operationFor(
  options: BenchOptions,
  share: WorkerShare,
  conns: Connections,
  recorder: Recorder,
): Operation {
  const keys = new KeySource(
    options.prefix,
    options.keySize,
    options.keySpace,
    options.sequentialKeys,
    share.index,
    share.count,
  );
  const value = Buffer.alloc(options.valSize, 'v');
  const serializable = options.consistency === 's';
  switch (options.workload) {
    case 'put':
      return async (client, signal) => {
        await conns.of(client).kv.put({key: keys.next(), value}, {signal});
        return 'put';
      };
    case 'range':
      return async (client, signal) => {
        await conns.of(client).kv.range({key: keys.next(), serializable}, {signal});
        return 'range';
      };
    case 'mixed':
      return async (client, signal) => {
        const kv = conns.of(client).kv;
        if (Math.random() < options.readRatio) {
          await kv.range({key: keys.next(), serializable}, {signal});
          return 'read';
        }
        await kv.put({key: keys.next(), value}, {signal});
        return 'write';
      };
    case 'txn':
      return casOperation(keys, value, conns, recorder);
    case 'lease':
      return leaseOperation(options, conns);
    case 'check-perf':
      return checkPerfOperation(options.prefix, conns);
    case 'watch':
      throw new Error('the watch workload has its own runner');
    case 'zk-create':
    case 'zk-get':
    case 'zk-set':
    case 'zk-delete':
      throw new Error('the ZooKeeper workloads have their own runner');
  }
}

/**
 * Compare-and-swap: put the key only if its mod_revision is still the one this client last
 * saw. On a conflict the failure branch reads the key, so the next attempt uses its current
 * revision; conflicts are counted, not errors.
 */
function casOperation(
  keys: KeySource,
  value: Buffer,
  conns: Connections,
  recorder: Recorder,
): Operation {
  const lastModRevision = new Map<number, bigint>();
  return async (client, signal) => {
    const index = keys.nextIndex();
    const key = keys.keyOf(index);
    const response = await conns.of(client).kv.txn(
      {
        compare: [
          {
            key,
            target: Compare_CompareTarget.MOD,
            result: Compare_CompareResult.EQUAL,
            targetUnion: {$case: 'modRevision', value: lastModRevision.get(index) ?? 0n},
          },
        ],
        success: [{request: {$case: 'requestPut', value: {key, value}}}],
        failure: [{request: {$case: 'requestRange', value: {key}}}],
      },
      {signal},
    );
    if (response.succeeded) {
      lastModRevision.set(index, response.header?.revision ?? 0n);
      return 'txn';
    }
    recorder.count('casConflicts');
    const read = response.responses[0]?.response;
    const kv = read?.$case === 'responseRange' ? read.value.kvs[0] : undefined;
    lastModRevision.set(index, kv?.modRevision ?? 0n);
    return 'txn';
  };
}

/** One client's lease: its keep-alive stream and where it is in grant, keep-alives, revoke. */
interface LeaseClient {
  id: bigint;
  keepAlivesLeft: number;
  requests: AsyncQueue<LeaseKeepAliveRequest>;
  responses: AsyncIterator<LeaseKeepAliveResponse>;
}

/**
 * Each client cycles: grant a lease, send `keepAlivesPerLease` keep-alives on its own
 * keep-alive stream (one request, one answer), revoke it. Each step is one operation.
 */
function leaseOperation(options: BenchOptions, conns: Connections): Operation {
  const clients = new Map<number, LeaseClient>();
  return async (client, signal) => {
    const lease = conns.of(client).lease;
    let state = clients.get(client);
    if (state === undefined) {
      const requests = new AsyncQueue<LeaseKeepAliveRequest>(signal);
      const responses = lease.leaseKeepAlive(requests, {signal})[Symbol.asyncIterator]();
      state = {id: 0n, keepAlivesLeft: 0, requests, responses};
      clients.set(client, state);
    }
    if (state.id === 0n) {
      const granted = await lease.leaseGrant({TTL: BigInt(options.leaseTtlSeconds)}, {signal});
      state.id = granted.ID;
      state.keepAlivesLeft = options.keepAlivesPerLease;
      return 'grant';
    }
    if (state.keepAlivesLeft > 0) {
      state.keepAlivesLeft -= 1;
      state.requests.push(LeaseKeepAliveRequest.fromPartial({ID: state.id}));
      const answer = await state.responses.next();
      if (answer.done === true) {
        clients.delete(client);
        throw new Error('the keep-alive stream ended');
      }
      if (answer.value.TTL <= 0n) throw new Error(`lease ${state.id} expired before keep-alive`);
      return 'keepalive';
    }
    const id = state.id;
    state.id = 0n;
    await lease.leaseRevoke({ID: id}, {signal});
    return 'revoke';
  };
}

/** etcdctl check perf's request: a 256-byte key (random leading bytes) and a 1 KiB value. */
function checkPerfOperation(prefix: string, conns: Connections): Operation {
  const value = Buffer.alloc(checkPerfValueSize);
  return async (client, signal) => {
    const key = Buffer.alloc(Buffer.byteLength(prefix) + checkPerfKeySize);
    key.write(prefix);
    key.writeDoubleLE(Math.random(), Buffer.byteLength(prefix));
    await conns.of(client).kv.put({key, value}, {signal});
    return 'put';
  };
}
