import {MemberRecord} from '@synod/proto/synodpb';
import type {Backend} from '@synod/storage';

/*
 * The `members` bucket holds three kinds of records, told apart by the key:
 *   8 bytes: a member id            -> MemberRecord
 *   'r' + 8 bytes: a removed id     -> empty
 *   'x' + 8 bytes: a raft index     -> empty; a conf change refused when applied
 */
const removedTag = 0x72; // 'r'
const refusedTag = 0x78; // 'x'
/** 'v' -> the raft index of the last entry that changed a member: the config's version. */
const versionKey = Buffer.from('v');

function memberKey(id: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeBigUInt64BE(BigInt(id));
  return k;
}

function taggedKey(tag: number, n: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = tag;
  k.writeBigUInt64BE(BigInt(n), 1);
  return k;
}

/** A member of the cluster as this member knows it. */
export interface MemberInfo {
  readonly id: number;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
  /** `host:port` of the member's first plain ZooKeeper listener, once it has published it. */
  readonly zkClientAddress?: string;
  /** `host:port` of the member's first TLS ZooKeeper listener, once it has published it. */
  readonly zkSecureClientAddress?: string;
}

export function toRecord(m: MemberInfo): MemberRecord {
  return {
    id: BigInt(m.id),
    name: m.name,
    peerUrls: [...m.peerUrls],
    clientUrls: [...m.clientUrls],
    isLearner: m.isLearner,
    zkClientAddress: m.zkClientAddress ?? '',
    zkSecureClientAddress: m.zkSecureClientAddress ?? '',
  };
}

export function fromRecord(r: MemberRecord): MemberInfo {
  return {
    id: Number(r.id),
    name: r.name,
    peerUrls: r.peerUrls,
    clientUrls: r.clientUrls,
    isLearner: r.isLearner,
    ...(r.zkClientAddress === '' ? {} : {zkClientAddress: r.zkClientAddress}),
    ...(r.zkSecureClientAddress === '' ? {} : {zkSecureClientAddress: r.zkSecureClientAddress}),
  };
}

/**
 * The cluster's members, replicated through conf change entries and kept in the
 * backend's `members` bucket, written in the same batch as the applied index
 * that covers them, so a restart sees exactly the membership it had applied.
 *
 * It also remembers every member ever removed (a removed member may not come
 * back with its old data, nor may its id be reused) and the raft indexes of conf
 * changes that were refused when applied: after a restart raft replays every
 * conf change, and it must skip exactly those that were refused the first time.
 */
export class Membership {
  private readonly members = new Map<number, MemberInfo>();
  private readonly removed = new Set<number>();
  private readonly refused = new Set<number>();
  private changedAtIndex = 0;

  constructor(private readonly backend: Backend) {
    for (const {key, value} of backend.range('members', Buffer.alloc(0))) {
      const k = Buffer.from(key);
      if (k.length === 8) {
        const m = fromRecord(MemberRecord.decode(value));
        this.members.set(m.id, m);
      } else if (k.length === 9 && k[0] === removedTag) {
        this.removed.add(Number(k.readBigUInt64BE(1)));
      } else if (k.length === 9 && k[0] === refusedTag) {
        this.refused.add(Number(k.readBigUInt64BE(1)));
      } else if (k.equals(versionKey) && value.length === 8) {
        this.changedAtIndex = Number(Buffer.from(value).readBigUInt64BE(0));
      }
    }
  }

  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  get(id: number): MemberInfo | undefined {
    return this.members.get(id);
  }

  has(id: number): boolean {
    return this.members.has(id);
  }

  isRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  removedIds(): number[] {
    return [...this.removed];
  }

  /** The member, other than `exceptId`, that already uses one of `peerUrls`. */
  withPeerUrl(peerUrls: readonly string[], exceptId = 0): MemberInfo | undefined {
    for (const m of this.members.values()) {
      if (m.id === exceptId) continue;
      if (m.peerUrls.some(u => peerUrls.includes(u))) return m;
    }
    return undefined;
  }

  learners(): MemberInfo[] {
    return this.list().filter(m => m.isLearner);
  }

  voters(): MemberInfo[] {
    return this.list().filter(m => !m.isLearner);
  }

  set(member: MemberInfo): void {
    this.members.set(member.id, member);
    this.backend.put(
      'members',
      memberKey(member.id),
      MemberRecord.encode(toRecord(member)).finish(),
    );
  }

  /** Removes a member for good: its id is remembered so it can never rejoin. */
  remove(id: number): void {
    this.members.delete(id);
    this.backend.delete('members', memberKey(id));
    this.removed.add(id);
    this.backend.put('members', taggedKey(removedTag, id), Buffer.alloc(0));
  }

  /** Records that the conf change at raft index `index` was refused when applied. */
  recordRefused(index: number): void {
    this.refused.add(index);
    this.backend.put('members', taggedKey(refusedTag, index), Buffer.alloc(0));
  }

  wasRefused(index: number): boolean {
    return this.refused.has(index);
  }

  /**
   * The raft index of the last applied entry that added, changed or removed a member (0 for
   * the membership a cluster was bootstrapped with): every member computes the same number,
   * and it grows with each change, as the `version` of ZooKeeper's `/zookeeper/config`.
   */
  get version(): number {
    return this.changedAtIndex;
  }

  /** Records that the entry at raft index `index` changed the membership. */
  recordChange(index: number): void {
    if (index <= this.changedAtIndex) return;
    this.changedAtIndex = index;
    const v = Buffer.alloc(8);
    v.writeBigUInt64BE(BigInt(index));
    this.backend.put('members', versionKey, v);
  }
}
