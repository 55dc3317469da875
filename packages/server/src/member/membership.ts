import {MemberRecord} from '@synod/proto/synodpb';
import type {Backend} from '@synod/storage';

function memberKey(id: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeBigUInt64BE(BigInt(id));
  return k;
}

/** A member of the cluster as this member knows it. */
export interface MemberInfo {
  readonly id: number;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

function toRecord(m: MemberInfo): MemberRecord {
  return {
    id: BigInt(m.id),
    name: m.name,
    peerUrls: [...m.peerUrls],
    clientUrls: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

export function fromRecord(r: MemberRecord): MemberInfo {
  return {
    id: Number(r.id),
    name: r.name,
    peerUrls: r.peerUrls,
    clientUrls: r.clientUrls,
    isLearner: r.isLearner,
  };
}

/**
 * The cluster's members, replicated through conf change entries and kept in the
 * backend's `members` bucket, written in the same batch as the applied index
 * that covers them, so a restart sees exactly the membership it had applied.
 */
export class Membership {
  private readonly members = new Map<number, MemberInfo>();

  constructor(private readonly backend: Backend) {
    for (const {value} of backend.range('members', memberKey(0))) {
      const m = fromRecord(MemberRecord.decode(value));
      this.members.set(m.id, m);
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

  set(member: MemberInfo): void {
    this.members.set(member.id, member);
    this.backend.put(
      'members',
      memberKey(member.id),
      MemberRecord.encode(toRecord(member)).finish(),
    );
  }

  remove(id: number): void {
    this.members.delete(id);
    this.backend.delete('members', memberKey(id));
  }
}
