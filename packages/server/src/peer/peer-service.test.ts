import net from 'node:net';

import type {PeerSnapshotChunk} from '@synod/proto';
import {Message, MessageType} from '@synod/proto/raftpb';
import {crc32c} from '@synod/storage';
import type {CallContext} from 'nice-grpc-common';
import {afterEach, describe, expect, it} from 'vitest';

import type {PeerInbox} from './peer-service.js';
import {acceptRaftStream, peerService} from './peer-service.js';
import {writeFrame} from './raft-stream.js';

/** An inbox for member 1 of cluster 7 that knows member 2 and records what it is told. */
function recordingInbox() {
  const told: string[] = [];
  const inbox: PeerInbox = {
    clusterId: 7,
    memberId: 1,
    knows: id => id === 2,
    wasRemoved: () => false,
    deliver: m => told.push(`deliver ${m.type}`),
    snapshotReceiving: (from, change) => told.push(`receiving ${from} ${change}`),
    snapshotReceiveFailed: from => told.push(`failed ${from}`),
    snapshotReceived: from => told.push(`received ${from}`),
    receiveFailed: address => told.push(`undecodable from ${address}`),
  };
  return {inbox, told};
}

async function* chunksOf(data: Buffer, checksum: number): AsyncIterable<PeerSnapshotChunk> {
  const message = Message.fromPartial({
    type: MessageType.MsgSnap,
    from: 2,
    to: 1,
    snapshot: {data: new Uint8Array(), metadata: {index: 5, term: 1}},
  });
  const half = Math.floor(data.length / 2);
  const chunks: PeerSnapshotChunk[] = [
    {
      hello: {clusterId: 7, from: 2, to: 1},
      message,
      data: data.subarray(0, half),
      offset: 0,
      last: false,
      checksum: 0,
    },
    {
      hello: undefined,
      message: undefined,
      data: data.subarray(half),
      offset: half,
      last: true,
      checksum,
    },
  ];
  for (const chunk of chunks) {
    // As a stream delivers them: each in a later turn than the one before.
    await new Promise(resolve => setImmediate(resolve));
    yield chunk;
  }
}

const context = {} as CallContext;

describe('a snapshot received from a peer, as etcd counts it', () => {
  it('is in flight while it arrives, and a whole one is not a failure', async () => {
    const {inbox, told} = recordingInbox();
    const data = Buffer.from('snapshot bytes');
    await peerService(inbox).sendSnapshot(chunksOf(data, crc32c(0, data)), context);
    expect(told).toEqual([
      'receiving 2 1',
      'received 2',
      `deliver ${MessageType.MsgSnap}`,
      'receiving 2 -1',
    ]);
  });

  it('is a failure when its checksum does not match, and leaves nothing in flight', async () => {
    const {inbox, told} = recordingInbox();
    const data = Buffer.from('snapshot bytes');
    await expect(
      peerService(inbox).sendSnapshot(chunksOf(data, crc32c(0, data) ^ 1), context),
    ).rejects.toThrow('snapshot checksum mismatch');
    expect(told).toEqual(['receiving 2 1', 'failed 2', 'receiving 2 -1']);
  });
});

describe('a Raft stream whose bytes do not decode', () => {
  const sockets: net.Socket[] = [];
  let server: net.Server | undefined;
  afterEach(() => {
    for (const socket of sockets) socket.destroy();
    server?.close();
  });

  it("is counted against the connection's remote address, as etcd's recvFailures", async () => {
    const {inbox, told} = recordingInbox();
    server = net.createServer(socket => {
      sockets.push(socket);
      acceptRaftStream(socket, inbox);
    });
    await new Promise<void>(resolve => server?.listen(0, '127.0.0.1', resolve));
    const {port} = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    sockets.push(client);
    await new Promise<void>(resolve => client.once('connect', resolve));
    // A frame whose payload is no PeerFrame: field 1 with wire type 7, which does not exist.
    writeFrame(client, Buffer.from([0x0f, 0x01]));
    const closed = new Promise<void>(resolve => client.once('end', resolve));
    client.resume();
    await closed;
    expect(told).toEqual([`undecodable from 127.0.0.1:${client.localPort ?? 0}`]);
  });
});
