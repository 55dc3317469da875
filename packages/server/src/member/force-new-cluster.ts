import type {ConfState, Entry, HardState} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType, EntryType} from '@synod/proto/raftpb';
import {ConfChangeContext} from '@synod/proto/synodpb';

import type {MemberInfo} from './membership.js';
import {toRecord} from './membership.js';

/** What a member's log becomes when it is forced into a cluster of its own. */
export interface ForcedLog {
  /** The committed entries kept (those past the snapshot), then the conf changes appended. */
  readonly entries: Entry[];
  /** The conf changes alone, to write to the WAL. */
  readonly appended: Entry[];
  /** The hard state with its commit index moved to the last appended entry. */
  readonly hardState: HardState;
  /** The members the appended conf changes remove. */
  readonly removed: number[];
}

/**
 * `--force-new-cluster`, as etcd's `restartAsStandaloneNode`: recovers a member whose cluster
 * lost its quorum for good. The entries after the commit index are dropped (no quorum holds
 * them); a conf change removing every other member (and one adding this member, should the
 * configuration lack it) is appended at the current term and committed at once, since only
 * this member will vote. The member applies them as any committed conf change, so raft's
 * configuration and the membership both end with this member alone; the data, the cluster id
 * and every committed write stay.
 *
 * The members are raft's configuration at the commit index: the snapshot's, changed by the
 * committed conf change entries after it.
 *
 * Example: snapshot at 10 with voters {1, 2, 3}, entries 11–14, commit 13, self 1 → entry 14 is
 * dropped; entries 14 (remove 2) and 15 (remove 3) are appended at the hard state's term, and
 * the commit index becomes 15.
 */
export function forceNewClusterLog(
  self: MemberInfo,
  snapshotConf: ConfState,
  snapshotIndex: number,
  replayed: readonly Entry[],
  hardState: HardState,
): ForcedLog {
  const commit = Math.max(hardState.commit, snapshotIndex);
  const kept = replayed.filter(e => e.index > snapshotIndex && e.index <= commit);
  const ids = new Set([...snapshotConf.voters, ...snapshotConf.learners]);
  for (const entry of kept) {
    if (entry.type !== EntryType.EntryConfChange) continue;
    const cc = ConfChange.decode(entry.data);
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) ids.delete(cc.nodeId);
    else if (
      cc.type === ConfChangeType.ConfChangeAddNode ||
      cc.type === ConfChangeType.ConfChangeAddLearnerNode
    ) {
      ids.add(cc.nodeId);
    }
  }
  const changes: ConfChange[] = [];
  const removed = [...ids].filter(id => id !== self.id).sort((a, b) => a - b);
  for (const id of removed) {
    changes.push({
      type: ConfChangeType.ConfChangeRemoveNode,
      nodeId: id,
      id: 0,
      context: context(),
    });
  }
  if (!ids.has(self.id)) {
    changes.push({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: self.id,
      id: 0,
      context: context(self),
    });
  }
  const appended = changes.map(
    (cc, i): Entry => ({
      term: hardState.term,
      index: commit + 1 + i,
      type: EntryType.EntryConfChange,
      data: ConfChange.encode(cc).finish(),
    }),
  );
  return {
    entries: [...kept, ...appended],
    appended,
    hardState: {...hardState, commit: commit + appended.length},
    removed,
  };
}

/** A conf change's context: no request waits for it (request id 0). */
function context(member?: MemberInfo): Uint8Array {
  return ConfChangeContext.encode({
    member: member === undefined ? undefined : toRecord(member),
    promote: false,
    requestId: 0n,
  }).finish();
}
