import {once} from 'node:events';
import net from 'node:net';

import type {PeerHello} from '@synod/proto';
import {PeerFrame, PeerRefusal} from '@synod/proto';
import type {Message} from '@synod/proto/raftpb';
import {EntryType, MessageType} from '@synod/proto/raftpb';
import {waitFor} from '@synod/testing';
import {afterEach, describe, expect, it} from 'vitest';

import type {PeerServer} from './peer-server.js';
import {startPeerServer} from './peer-server.js';
import {PeerTransport} from './peer-transport.js';
import {FrameDecoder, raftStreamPreface, writeFrame} from './raft-stream.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function message(partial: Partial<Message>): Message {
  return {
    type: MessageType.MsgApp,
    to: 0,
    from: 0,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    commitOnly: false,
    ...partial,
  };
}

async function receiver(
  memberId: number,
  clusterId: number,
  known: number[],
  options: {removed?: number[]; raftStreamIdleTimeoutMs?: number} = {},
) {
  const received: Message[] = [];
  const server: PeerServer = await startPeerServer(
    [new URL('http://127.0.0.1:0')],
    {
      clusterId,
      memberId,
      knows: id => known.includes(id),
      wasRemoved: id => options.removed?.includes(id) ?? false,
      deliver: m => received.push(m),
    },
    () => undefined,
    {raftStreamIdleTimeoutMs: options.raftStreamIdleTimeoutMs},
  );
  cleanups.push(() => server.close());
  return {received, url: `http://127.0.0.1:${server.ports[0] ?? 0}`};
}

function sender(memberId: number, clusterId: number) {
  const unreachable: number[] = [];
  const snapshots: [number, boolean][] = [];
  const removedBy: number[] = [];
  const transport = new PeerTransport({
    clusterId,
    memberId,
    events: {
      unreachable: id => unreachable.push(id),
      snapshotStatus: (id, ok) => snapshots.push([id, ok]),
      removed: id => removedBy.push(id),
    },
    snapshotChunkBytes: 1000,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
  });
  cleanups.push(() => {
    transport.close();
  });
  return {transport, unreachable, snapshots, removedBy};
}

/** Opens a Raft stream by hand: the preface and a hello, then whatever the test writes. */
async function rawStream(url: string, hello: PeerHello): Promise<net.Socket> {
  const {hostname, port} = new URL(url);
  const socket = net.connect({host: hostname, port: Number(port)});
  cleanups.push(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(raftStreamPreface);
  writeFrame(socket, PeerFrame.encode({frame: {$case: 'hello', value: hello}}).finish());
  return socket;
}

describe('peer transport', () => {
  it('delivers messages in order to the addressed member', async () => {
    const b = await receiver(2, 77, [1]);
    const a = sender(1, 77);
    a.transport.setPeer(2, [b.url]);
    const sent = Array.from({length: 300}, (_, i) =>
      message({
        to: 2,
        from: 1,
        index: i,
        entries: [
          {term: 1, index: i + 1, type: EntryType.EntryNormal, data: new Uint8Array([i % 256])},
        ],
      }),
    );
    a.transport.send(sent.slice(0, 100));
    await new Promise(r => setTimeout(r, 5));
    a.transport.send(sent.slice(100));
    await waitFor(() => b.received.length === 300);
    expect(b.received.map(m => m.index)).toEqual(sent.map(m => m.index));
    expect([...(b.received[7]?.entries[0]?.data ?? [])]).toEqual([7]);
  });

  it('refuses a member of another cluster, and reports the peer unreachable', async () => {
    const b = await receiver(2, 77, [1]);
    const a = sender(1, 78);
    a.transport.setPeer(2, [b.url]);
    a.transport.send([message({to: 2, from: 1})]);
    await waitFor(() => a.unreachable.length > 0);
    expect(b.received).toEqual([]);
  });

  it('reconnects after the peer comes back, with messages sent afterwards delivered', async () => {
    const a = sender(1, 5);
    // Nothing listens on this port yet: find a free one by starting and stopping a receiver.
    const probe = await receiver(2, 5, [1]);
    const url = probe.url;
    await cleanups.pop()?.();
    a.transport.setPeer(2, [url]);
    a.transport.send([message({to: 2, from: 1, index: 1})]);
    await waitFor(() => a.unreachable.length > 0);
    const port = Number(new URL(url).port);
    const received: Message[] = [];
    const server = await startPeerServer(
      [new URL(`http://127.0.0.1:${port}`)],
      {
        clusterId: 5,
        memberId: 2,
        knows: () => true,
        wasRemoved: () => false,
        deliver: m => received.push(m),
      },
      () => undefined,
    );
    cleanups.push(() => server.close());
    await waitFor(() => {
      a.transport.send([message({to: 2, from: 1, index: 2})]);
      return received.some(m => m.index === 2);
    }, 8000);
  });

  it('sends a snapshot in chunks and the receiver gets it whole', async () => {
    const b = await receiver(3, 9, [1]);
    const a = sender(1, 9);
    a.transport.setPeer(3, [b.url]);
    const data = new Uint8Array(10_500).map((_, i) => (i * 7) % 251);
    a.transport.send([
      message({
        type: MessageType.MsgSnap,
        to: 3,
        from: 1,
        snapshot: {data, metadata: {index: 40, term: 2, confState: {voters: [1, 3], learners: []}}},
      }),
    ]);
    await waitFor(() => a.snapshots.length > 0);
    expect(a.snapshots).toEqual([[3, true]]);
    expect(b.received).toHaveLength(1);
    expect(Buffer.from(b.received[0]?.snapshot?.data ?? []).equals(data)).toBe(true);
    expect(b.received[0]?.snapshot?.metadata?.index).toBe(40);
  });

  it('tells a member the cluster removed that it was removed, and delivers nothing of it', async () => {
    const b = await receiver(2, 77, [1], {removed: [1]});
    const a = sender(1, 77);
    a.transport.setPeer(2, [b.url]);
    a.transport.send([message({to: 2, from: 1})]);
    await waitFor(() => a.removedBy.length > 0);
    expect(a.removedBy[0]).toBe(2);
    expect(b.received).toEqual([]);
  });

  it('answers a refused stream with the reason, then closes it', async () => {
    const b = await receiver(2, 77, [1]);
    const socket = await rawStream(b.url, {clusterId: 78, from: 1, to: 2});
    const decoder = new FrameDecoder(1024);
    const reasons: string[] = [];
    socket.on('data', chunk => {
      for (const f of decoder.push(chunk)) reasons.push(PeerRefusal.decode(f).reason);
    });
    await once(socket, 'close');
    expect(reasons).toEqual(['etcdserver: cluster ID mismatch']);
  });

  it('closes a stream that stays silent past the idle timeout', async () => {
    const b = await receiver(2, 77, [1], {raftStreamIdleTimeoutMs: 300});
    const socket = await rawStream(b.url, {clusterId: 77, from: 1, to: 2});
    const started = performance.now();
    await once(socket, 'close');
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('keeps an idle stream open with keep-alives, longer than the idle timeout', async () => {
    const b = await receiver(2, 77, [1], {raftStreamIdleTimeoutMs: 2500});
    const a = sender(1, 77);
    a.transport.setPeer(2, [b.url]);
    a.transport.send([message({to: 2, from: 1, index: 1})]);
    await waitFor(() => b.received.length === 1);
    await new Promise(r => setTimeout(r, 3200));
    expect(a.unreachable).toEqual([]);
    expect(a.transport.isConnected(2)).toBe(true);
    a.transport.send([message({to: 2, from: 1, index: 2})]);
    await waitFor(() => b.received.length === 2);
  });
});
