import type {Entry, Message} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';

/** Proposals remembered per member: far more than a transport keeps in flight. */
const defaultCapacity = 8192;

/** A conf change is small; a bigger one is not remembered (and so never dropped). */
const maxConfChangeKeyBytes = 1024;

/**
 * The forwarded proposals (MsgProp from a peer) a member has taken, so that one delivered
 * twice is dropped instead of appended twice. Raft appends every MsgProp it receives; a
 * follower's proposal that reaches the leader twice would be committed and applied twice,
 * and a put applied again after later puts brings back an old value (the simulator found
 * this with 1% of messages duplicated: seed 3059 read `v57` back after `v61`, `v57` being at
 * revisions 57 and 62). Raft's fault model allows a network to duplicate messages; TCP does
 * not, but nothing above the transport should depend on which one carries the messages.
 *
 * Every member filters what it receives, follower or leader: both copies of a duplicated
 * message go to the same member, which drops the second whatever its role is by then (a
 * follower forwards what it takes to its leader, so a copy reaching a deposed leader is not
 * forwarded to the new one either).
 *
 * A proposal is known by its entries' request headers: every request a member proposes
 * carries a cluster-unique id there (`RequestIds`); a conf change by its bytes, which hold its
 * request id. A message with an entry of neither kind is never dropped. The window is the last
 * `capacity` proposals and lives in memory, so a restart empties it. That cannot let a copy
 * through: a second copy of a message exists only where a network duplicates it, which a peer
 * stream (TCP) does not, and the transport writes each message once (it forgets what it wrote
 * when a stream breaks; what it queued while it could not connect was never delivered before).
 * So a forwarded MsgProp reaches a restarted leader only if no earlier incarnation took it, and
 * a copy duplicated below the transport dies with the connection it came on, which dies with
 * the process that received the first. The simulator's network duplicates messages, and drops
 * a message whose receiver restarted after it was sent, as that connection would.
 */
export class RepeatedProposals {
  /** Keys in the order they were first seen, oldest first. */
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = defaultCapacity) {}

  /** Whether `message`, a MsgProp from a peer, was taken before; remembers it if not. */
  isRepeat(message: Message): boolean {
    const key = proposalKey(message.entries);
    if (key === undefined) return false;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
    return false;
  }
}

/**
 * What identifies a batch of proposed entries, or undefined when one of them has no identity.
 *
 * @example
 * // An InternalRequest starts with its header, field 1: 0x0a, its length, then its bytes
 * // (the id, the user name, the auth revision): `0a 03 08 96 01 12 ...`, a request with id 150,
 * // is known as `n:089601`; a batch of several entries by their keys joined with `|`.
 */
export function proposalKey(entries: readonly Entry[]): string | undefined {
  if (entries.length === 0) return undefined;
  const keys: string[] = [];
  for (const entry of entries) {
    const key =
      entry.type === EntryType.EntryConfChange
        ? entry.data.length <= maxConfChangeKeyBytes
          ? `c:${Buffer.from(entry.data).toString('hex')}`
          : undefined
        : requestHeaderKey(entry.data);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return keys.join('|');
}

/** The hex of an encoded InternalRequest's header (field 1), or undefined if it has none. */
function requestHeaderKey(data: Uint8Array): string | undefined {
  // Tag of field 1, wire type 2 (length-delimited).
  if (data[0] !== 0x0a) return undefined;
  let length = 0;
  let shift = 0;
  let at = 1;
  for (;;) {
    const byte = data[at++];
    if (byte === undefined || shift > 28) return undefined;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  const end = at + length;
  // A header without its id (field 1, varint: tag 0x08) cannot tell requests apart.
  if (length === 0 || end > data.length || data[at] !== 0x08) return undefined;
  return `n:${Buffer.from(data.buffer, data.byteOffset + at, length).toString('hex')}`;
}
