import {memberAsRoot} from '../auth/auth-store.js';
import type {RequestAuth} from '../auth/auth-store.js';
import type {Clock, TimerHandle} from './clock.js';

/** What the compactor needs of the member: the revisions, the role, and a way to propose. */
export interface CompactionTarget {
  readonly store: {rev(): number; firstRev(): number};
  readonly isLeader: boolean;
  propose(
    body: {$case: 'compaction'; value: {revision: bigint; physical: boolean}},
    auth: RequestAuth,
  ): Promise<unknown>;
}

const hourMs = 3_600_000;
/** etcd's revision-mode check period. */
const revisionCheckMs = 5 * 60_000;

/**
 * Compacts history on the leader, as etcd's `--auto-compaction-*` settings do.
 *
 * - `periodic`, retention R: every R/10 (or every hour when R is an hour or
 *   more) the revision seen R ago becomes the compact revision, so about R of
 *   history is kept.
 * - `revision`, retention N: every 5 minutes, compacts to the current revision
 *   minus N.
 *
 * Only the leader proposes; compaction then goes through the log like any write.
 */
export class AutoCompactor {
  private timer: TimerHandle | undefined;
  /** Revisions sampled at each tick, oldest first (periodic mode). */
  private readonly samples: {atMs: number; revision: number}[] = [];
  private lastCompacted = 0;

  constructor(
    private readonly member: CompactionTarget,
    private readonly mode: 'periodic' | 'revision',
    private readonly retention: number,
    private readonly clock: Pick<Clock, 'monotonicMs' | 'setInterval' | 'clearTimer'>,
  ) {}

  /** The period between checks, in ms. */
  get intervalMs(): number {
    if (this.mode === 'revision') return revisionCheckMs;
    return this.retention >= hourMs ? hourMs : Math.max(1, Math.floor(this.retention / 10));
  }

  start(): void {
    if (this.retention <= 0) return;
    this.timer = this.clock.setInterval(() => {
      this.tick();
    }, this.intervalMs);
  }

  stop(): void {
    this.clock.clearTimer(this.timer);
  }

  /** One check: sample the revision, and propose a compaction when one is due. */
  tick(): void {
    const now = this.clock.monotonicMs();
    const current = this.member.store.rev();
    this.samples.push({atMs: now, revision: current});
    let target = 0;
    if (this.mode === 'revision') {
      target = current - this.retention;
    } else {
      // The newest sample at least `retention` old marks the start of the window to keep.
      while (
        this.samples.length > 1 &&
        (this.samples[1]?.atMs ?? Infinity) <= now - this.retention
      ) {
        this.samples.shift();
      }
      const oldest = this.samples[0];
      if (oldest !== undefined && oldest.atMs <= now - this.retention) target = oldest.revision;
    }
    if (!this.member.isLeader || target <= this.lastCompacted || target <= 0) return;
    if (target <= this.member.store.firstRev()) return;
    this.lastCompacted = target;
    this.member
      .propose(
        {$case: 'compaction', value: {revision: BigInt(target), physical: false}},
        memberAsRoot,
      )
      .catch(() => {
        // Lost leadership or already compacted further: the next tick tries again.
        this.lastCompacted = 0;
      });
  }
}
