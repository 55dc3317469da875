import type {PeerHello, PeerServiceImplementation} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import type {Message} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import {crc32c} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';

import {memberRemovedMessage} from '../member/member-removed.js';

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

/**
 * The receiving side of the peer transport: checks that a stream comes from a
 * member of this cluster addressed to this member, then hands its messages to
 * raft. A snapshot is assembled from its chunks and installed only if the
 * whole passes its CRC32C.
 */
export function peerService(inbox: PeerInbox): PeerServiceImplementation {
  return {
    async send(frames) {
      let hello: PeerHello | undefined;
      for await (const {frame} of frames) {
        if (frame === undefined) continue;
        if (frame.$case === 'hello') {
          checkHello(frame.value, inbox);
          hello = frame.value;
          continue;
        }
        if (hello === undefined) {
          checkHello(undefined, inbox);
          continue;
        }
        // A member removed while its stream was open learns it from the next frame it
        // sends, and stops: it may have missed the entry that removed it.
        if (inbox.wasRemoved(hello.from)) {
          throw new ServerError(Status.FAILED_PRECONDITION, memberRemovedMessage);
        }
        for (const m of frame.value.messages) {
          if (m.type === MessageType.MsgSnap) continue;
          inbox.deliver(m);
        }
      }
      return {};
    },

    async sendSnapshot(chunks) {
      let header: Message | undefined;
      const parts: Uint8Array[] = [];
      let received = 0;
      for await (const chunk of chunks) {
        if (header === undefined) {
          checkHello(chunk.hello, inbox);
          if (chunk.message?.snapshot === undefined || chunk.message.type !== MessageType.MsgSnap) {
            throw new ServerError(
              Status.INVALID_ARGUMENT,
              'snapshot stream must start with a MsgSnap',
            );
          }
          header = chunk.message;
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
          const snapshot = header.snapshot;
          if (snapshot === undefined) break;
          inbox.deliver({...header, snapshot: {...snapshot, data}});
          return {};
        }
      }
      throw new ServerError(Status.INVALID_ARGUMENT, 'snapshot stream ended before its last chunk');
    },
  };
}
