import http2 from 'node:http2';

import {KVDefinition, MaintenanceDefinition} from '@synod/proto';
import type {EtcdCluster} from '@synod/testing';
import {grpcFrame, grpcMessages, startSynod} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import type {Channel} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/*
 * A snapshot client that stops reading holds its stream's read transaction of the backend,
 * and defragmentation waits for every read transaction to end. A member started with a short
 * --snapshot-stall-timeout-ms stops such a snapshot once the bound passes: the transaction is
 * released, the waiting defragmentation runs, and the client, if it reads again, gets the
 * chunks already built and then UNAVAILABLE instead of a file.
 */

const stallMs = 3000;
/** About 6 MiB of values: several 1 MiB chunks, far more than a stream's flow-control window. */
const keys = 3000;
const valueBytes = 2048;

/** A Maintenance.Snapshot call whose client reads nothing until told to. */
interface StalledSnapshot {
  /** Resolves when the response headers came: the snapshot has started. */
  readonly started: Promise<void>;
  /** Reads on to the end: the messages' payload bytes, and the status with its message. */
  readToEnd(): Promise<{bytes: number; status: number | undefined; message: string}>;
  close(): void;
}

function stalledSnapshot(clientUrl: string): StalledSnapshot {
  const session = http2.connect(clientUrl);
  session.on('error', () => {});
  const call = session.request({
    ':method': 'POST',
    ':path': '/etcdserverpb.Maintenance/Snapshot',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  call.on('error', () => {});
  call.end(grpcFrame(new Uint8Array(0)));
  // No 'data' listener: the stream stays paused, Node stops reading it once its buffer is
  // full, and the server's writes wait on HTTP/2 flow control.
  const started = new Promise<void>(resolve => {
    call.once('response', () => {
      resolve();
    });
  });
  let trailers: http2.IncomingHttpHeaders = {};
  call.once('trailers', (t: http2.IncomingHttpHeaders) => {
    trailers = t;
  });
  return {
    started,
    readToEnd: () =>
      new Promise(resolve => {
        const body: Buffer[] = [];
        call.on('data', (chunk: Buffer) => body.push(chunk));
        call.once('close', () => {
          const messages = grpcMessages(Buffer.concat(body));
          const status = trailers['grpc-status'];
          resolve({
            bytes: messages.reduce((n, m) => n + m.length, 0),
            status: status === undefined ? undefined : Number(status),
            message: decodeURIComponent(String(trailers['grpc-message'] ?? '')),
          });
        });
        call.resume();
      }),
    close: () => {
      call.close();
      session.close();
    },
  };
}

describe('a snapshot whose client stops reading', () => {
  let cluster: EtcdCluster;
  let channel: Channel;

  beforeAll(async () => {
    cluster = await startSynod({extraArgs: [`--snapshot-stall-timeout-ms=${stallMs}`]});
    channel = createChannel(cluster.members[0]?.clientAddress ?? '');
    const kv = createClient(KVDefinition, channel);
    const value = Buffer.alloc(valueBytes, 'v');
    for (let from = 0; from < keys; from += 100) {
      const success = [];
      for (let i = from; i < from + 100; i++) {
        const key = Buffer.from(`stall/${String(i).padStart(5, '0')}`);
        success.push({request: {$case: 'requestPut' as const, value: {key, value}}});
      }
      await kv.txn({success});
    }
  }, 60_000);

  afterAll(async () => {
    channel.close();
    await cluster.stop();
  });

  it('is stopped after --snapshot-stall-timeout-ms, so a defragmentation waiting for it runs', async () => {
    const maintenance = createClient(MaintenanceDefinition, channel);
    const stalled = stalledSnapshot(cluster.members[0]?.clientUrl ?? '');
    let stoppedBytes: number;
    try {
      await stalled.started;
      const askedMs = performance.now();
      let defragmentedMs: number | undefined;
      const defragmented = maintenance.defragment({}).then(() => {
        defragmentedMs = performance.now();
      });
      // Well within the bound, the stalled snapshot's transaction still holds it up.
      await new Promise(resolve => setTimeout(resolve, stallMs / 3));
      expect(defragmentedMs).toBeUndefined();
      await defragmented;
      expect((defragmentedMs ?? 0) - askedMs).toBeLessThan(stallMs + 10_000);

      // Reading again: what was built before the stop, then the error, not a whole file.
      const end = await stalled.readToEnd();
      expect(end.status).toBe(14);
      expect(end.message).toBe(
        `snapshot stopped: the client took no message for ${stallMs} ms (--snapshot-stall-timeout-ms); save it again`,
      );
      expect(end.bytes).toBeGreaterThan(0);
      stoppedBytes = end.bytes;
    } finally {
      stalled.close();
    }

    // A client that reads gets the whole file and its hash.
    let bytes = 0;
    let last: Uint8Array = new Uint8Array(0);
    for await (const message of maintenance.snapshot({})) {
      bytes += message.blob.length;
      last = message.blob;
    }
    expect(last).toHaveLength(32);
    expect(bytes).toBeGreaterThan(keys * valueBytes);
    expect(stoppedBytes).toBeLessThan(bytes - 32);
  }, 60_000);
});
