import type {Message, Snapshot} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import type {Backend} from '@synod/storage';

import type {BackendImages} from './backend-images.js';
import type {MemberLogger} from './member-environment.js';
import type {MemberObserver} from './member-observer.js';

/** What catching a follower up with a snapshot needs of the member. */
export interface CatchUpHost {
  /** Hands messages to the peer transport. */
  send(messages: readonly Message[]): void;
  /** Tells raft a snapshot to `to` failed, so it tries again later. */
  reportSnapshotFailed(to: number): void;
  /** The backend the applied state lives in now. */
  backend(): Backend;
  /** The index of the last entry the backend holds. */
  consistentIndex(): number;
  /** Closes the applied state's store before its file is replaced. */
  closeStore(): Promise<void>;
  /** Opens the applied state again from the backend file now in place. */
  reopenState(): void;
}

/**
 * Snapshots between members, the part raft does not carry: raft's own snapshot records only
 * the log position and membership, and a follower that needs one needs the whole state. The
 * leader fills each outgoing MsgSnap with a consistent copy of its backend; the follower
 * installs the copy in place of its own backend. The copy may be ahead of the snapshot's
 * index; the follower then skips the entries the copy already holds, by its consistent
 * index, exactly as after a restart.
 */
export class SnapshotCatchUp {
  /** Snapshots of the store this member received from a leader and installed, for metrics. */
  installed = 0;

  constructor(
    private readonly host: CatchUpHost,
    private readonly images: BackendImages,
    private readonly observer: MemberObserver,
    private readonly logger: MemberLogger,
  ) {}

  /** Sends raft's messages; each MsgSnap goes once it is filled with a copy of the backend. */
  send(messages: readonly Message[]): void {
    const plain = messages.filter(m => m.type !== MessageType.MsgSnap);
    if (plain.length > 0) this.host.send(plain);
    for (const m of messages) {
      if (m.type !== MessageType.MsgSnap) continue;
      this.fill(m).then(
        filled => {
          this.host.send([filled]);
        },
        (error: unknown) => {
          this.logger.warn(
            {to: m.to.toString(16), error: String(error)},
            'could not prepare a snapshot',
          );
          this.host.reportSnapshotFailed(m.to);
        },
      );
    }
  }

  private async fill(m: Message): Promise<Message> {
    const snapshot = m.snapshot;
    if (snapshot === undefined) throw new Error('MsgSnap without a snapshot');
    const data = await this.images.copyOut(this.host.backend(), m.to);
    this.logger.info(
      {to: m.to.toString(16), index: snapshot.metadata?.index, bytes: data.length},
      'sending a snapshot',
    );
    return {...m, snapshot: {...snapshot, data}};
  }

  /**
   * Replaces this member's state with the backend image in a snapshot from the
   * leader: the image is written and fsynced beside the live file, the store is
   * closed (open watch streams end; clients resume from their last revision),
   * the image renamed into place, and everything reopened from it.
   */
  async install(snapshot: Snapshot): Promise<void> {
    this.observer.snapshotApplying?.(1);
    try {
      const index = snapshot.metadata?.index ?? 0;
      if (index <= this.host.consistentIndex()) return;
      await this.images.install(snapshot.data, () => this.host.closeStore());
      this.host.reopenState();
      this.installed++;
      this.logger.info(
        {index, consistentIndex: this.host.consistentIndex(), bytes: snapshot.data.length},
        'installed a snapshot from the leader',
      );
    } finally {
      this.observer.snapshotApplying?.(-1);
    }
  }
}
