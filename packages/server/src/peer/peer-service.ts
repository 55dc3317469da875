import type net from 'node:net';

import type {PeerHello, PeerServiceImplementation} from '@synod/proto';
import {EtcdErrors, PeerFrame, PeerRefusal} from '@synod/proto';
import type {Message} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import {crc32c} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';

import {memberRemovedMessage} from '../member/member-removed.js';
import {peerMaxMessageBytes} from './peer-transport.js';
import {FrameDecoder, writeFrame} from './raft-stream.js';

/** What the peer service hands incoming messages to. */
export interface PeerInbox {
  readonly clusterId: number;
  readonly memberId: number;
  /** Whether `id` is a member this one should accept messages from. */
  knows(id: number): boolean;
  /** Whether `id` was a member of this cluster and has been removed. */
  wasRemoved(id: number): boolean;
  /** Delivers a message from a peer to raft. */
  deliver(message: Message): void;
  /** Told of every frame of `bytes` read from peer `from`'s Raft stream, for metrics. */
  received?(from: number, bytes: number): void;
  /** Told of a snapshot received whole from peer `from`, `durationMs` after its first chunk. */
  snapshotReceived?(from: number, durationMs: number): void;
  /** Told when a snapshot from `from` starts arriving (`+1`) and when it ends, however (`-1`). */
  snapshotReceiving?(from: number, change: 1 | -1): void;
  /** Told of a snapshot from `from` that broke off, or arrived but failed its checksum. */
  snapshotReceiveFailed?(from: number): void;
  /** Told of bytes from a peer's connection (`host:port`) that are no Raft stream frame. */
  receiveFailed?(remoteAddress: string): void;
}

function checkHello(hello: PeerHello | undefined, inbox: PeerInbox): void {
  if (hello === undefined) {
    throw new ServerError(Status.INVALID_ARGUMENT, 'peer stream must start with a hello');
  }
  if (hello.clusterId !== inbox.clusterId) {
    throw new ServerError(EtcdErrors.clusterIdMismatch.code, EtcdErrors.clusterIdMismatch.message);
  }
  if (hello.to !== inbox.memberId) {
    throw new ServerError(
      Status.FAILED_PRECONDITION,
      `peer ${hello.from.toString(16)} addressed member ${hello.to.toString(16)}, but this is ${inbox.memberId.toString(16)}`,
    );
  }
  if (inbox.wasRemoved(hello.from)) {
    throw new ServerError(Status.FAILED_PRECONDITION, memberRemovedMessage);
  }
  if (!inbox.knows(hello.from)) {
    throw new ServerError(
      Status.FAILED_PRECONDITION,
      `member ${hello.from.toString(16)} is not (or no longer) a member of this cluster`,
    );
  }
}

/** How long a Raft stream may stay silent before the receiver gives up on it, by default. */
export const raftStreamIdleTimeoutMs = 5000;

/**
 * The receiving side of a Raft stream (see {@link raftStreamPreface}): reads the
 * hello, checks that the stream comes from a member of this cluster addressed to
 * this member, then hands every message of every batch to raft, in order. A
 * refused stream gets one PeerRefusal saying why, and is closed. A stream
 * silent for `idleTimeoutMs` (the sender keeps it alive every second) is
 * closed, so a peer that vanished without a FIN is noticed.
 *
 * `socket` has had its preface read already.
 */
export function acceptRaftStream(
  socket: net.Socket,
  inbox: PeerInbox,
  idleTimeoutMs = raftStreamIdleTimeoutMs,
): void {
  const decoder = new FrameDecoder(peerMaxMessageBytes);
  let hello: PeerHello | undefined;
  const refuse = (reason: string) => {
    socket.off('data', onData);
    writeFrame(socket, PeerRefusal.encode({reason}).finish());
    socket.end();
  };
  const onFrame = (bytes: Buffer) => {
    const {frame} = PeerFrame.decode(bytes);
    if (frame === undefined) return;
    if (frame.$case === 'hello') {
      checkHello(frame.value, inbox);
      hello = frame.value;
      return;
    }
    if (hello === undefined) {
      checkHello(undefined, inbox);
      return;
    }
    // A member removed while its stream was open learns it from the next frame it
    // sends, and stops: it may have missed the entry that removed it.
    if (inbox.wasRemoved(hello.from)) {
      throw new ServerError(Status.FAILED_PRECONDITION, memberRemovedMessage);
    }
    inbox.received?.(hello.from, bytes.length);
    for (const m of frame.value.messages) {
      if (m.type === MessageType.MsgSnap) continue;
      inbox.deliver(m);
    }
  };
  const onData = (chunk: Buffer) => {
    try {
      for (const bytes of decoder.push(chunk)) onFrame(bytes);
    } catch (error) {
      if (error instanceof ServerError) {
        refuse(error.details);
        return;
      }
      inbox.receiveFailed?.(`${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`);
      refuse(`bad raft stream: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  socket.setNoDelay(true);
  socket.setTimeout(idleTimeoutMs, () => {
    socket.destroy();
  });
  socket.on('data', onData);
  socket.on('error', () => {
    socket.destroy();
  });
}

/**
 * The gRPC side of the peer port: snapshots, assembled from their chunks and
 * installed only if the whole passes its CRC32C.
 */
export function peerService(inbox: PeerInbox): PeerServiceImplementation {
  return {
    async sendSnapshot(chunks) {
      const startedMs = performance.now();
      let header: Message | undefined;
      let delivered = false;
      const parts: Uint8Array[] = [];
      let received = 0;
      try {
        for await (const chunk of chunks) {
          if (header === undefined) {
            checkHello(chunk.hello, inbox);
            const message = chunk.message;
            if (message?.snapshot === undefined || message.type !== MessageType.MsgSnap) {
              throw new ServerError(
                Status.INVALID_ARGUMENT,
                'snapshot stream must start with a MsgSnap',
              );
            }
            header = message;
            inbox.snapshotReceiving?.(message.from, 1);
          }
          if (chunk.offset !== received) {
            throw new ServerError(
              Status.INVALID_ARGUMENT,
              `snapshot chunk at offset ${chunk.offset}, expected ${received}`,
            );
          }
          parts.push(chunk.data);
          received += chunk.data.length;
          if (chunk.last) {
            const data = Buffer.concat(parts);
            if (crc32c(0, data) !== chunk.checksum) {
              throw new ServerError(Status.DATA_LOSS, 'snapshot checksum mismatch; send it again');
            }
            inbox.received?.(header.from, data.length);
            inbox.snapshotReceived?.(header.from, performance.now() - startedMs);
            delivered = true;
            const snapshot = header.snapshot;
            if (snapshot === undefined) break;
            inbox.deliver({...header, snapshot: {...snapshot, data}});
            return {};
          }
        }
        throw new ServerError(
          Status.INVALID_ARGUMENT,
          'snapshot stream ended before its last chunk',
        );
      } catch (error) {
        // As etcd's snapshot handler: a snapshot whose sender is known and that did not
        // arrive whole is a receive failure.
        if (header !== undefined && !delivered) inbox.snapshotReceiveFailed?.(header.from);
        throw error;
      } finally {
        if (header !== undefined) inbox.snapshotReceiving?.(header.from, -1);
      }
    },
  };
}
