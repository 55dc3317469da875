import type {ConfState, Entry, Snapshot} from '@synod/proto/raftpb';

import type {TokenProvider} from '../auth/token-provider.js';
import type {MemberConfig} from '../config/member-config.js';
import type {AppliedState} from './applied-state.js';
import {openAppliedState} from './applied-state.js';
import type {ApplyResult} from './apply-result.js';
import type {Applier} from './applier.js';
import {BackendCommitBatcher} from './backend-commit-batcher.js';
import type {Clock} from './clock.js';
import type {InjectedBug} from './injected-bugs.js';
import type {MemberLogger} from './member-environment.js';
import type {MemberObserver} from './member-observer.js';
import type {MemberStorage} from './member-storage.js';
import type {RaftFiles} from './raft-persistence.js';
import {RaftSnapshots} from './raft-snapshots.js';

/** What the apply path needs of the rest of the member. */
export interface ApplyPathHost {
  /** Puts the backend image of a snapshot from the leader in place (see `snapshot-catch-up.ts`). */
  installSnapshot(snapshot: Snapshot): Promise<void>;
  /** Applies a committed conf change entry, in log order (see `conf-changes.ts`). */
  applyConfChange(entry: Entry): void;
  /** Settles this member's request `id` with the result of applying its entry. */
  resolve(id: bigint, result: ApplyResult): void;
  /** Entries up to `index` are applied: reads waiting for it may be served. */
  applied(index: number): void;
  /** The membership changed: the transport follows it. */
  membershipChanged(): void;
  /** Runs `fn` between passes of the raft loop, when no WAL write is in flight. */
  runBetweenPasses(fn: () => void): void;
  /** Whether the member has stopped (closed or failed). */
  stopped(): boolean;
  /** Stops the member on `error` (a backend commit that failed). */
  fail(error: unknown): void;
  /** Index of the last conf change applied, and raft's configuration after it. */
  confChangeIndex(): number;
  confState(): ConfState;
}

/** What the applied state is opened with. */
export interface ApplyPathDeps {
  readonly dbDir: string;
  readonly config: MemberConfig;
  readonly clock: Clock;
  readonly observer: MemberObserver;
  readonly storage: MemberStorage;
  readonly authTokens: TokenProvider;
  readonly bugs: ReadonlySet<InjectedBug>;
  readonly logger: MemberLogger;
}

/**
 * The one path committed state takes into the member, as etcd's `applyAll` takes it: a
 * snapshot from the leader first, then the committed entries in order through the
 * {@link Applier}; their backend writes are committed in batches, and a raft snapshot is
 * taken when one is due. Holds the applied state, which a snapshot install replaces.
 */
export class ApplyPath {
  private current: AppliedState;
  private readonly backendCommits: BackendCommitBatcher;
  private readonly snapshots: RaftSnapshots;
  private pendingCompactions: Promise<void>[] = [];

  constructor(
    private readonly host: ApplyPathHost,
    private readonly deps: ApplyPathDeps,
    files: RaftFiles,
  ) {
    const {config, clock, observer} = deps;
    this.current = this.open();
    this.backendCommits = new BackendCommitBatcher(
      () => ({
        pendingWrites: () => this.current.kv.backend.pendingWrites,
        commit: () => deps.storage.awaitIo(this.current.store.commit()),
      }),
      clock,
      config.backendBatchIntervalMs,
      config.backendBatchLimit,
      error => {
        host.fail(error);
      },
    );
    this.snapshots = new RaftSnapshots(
      files,
      {
        commitBackendNow: () => this.backendCommits.commitNow(),
        runBetweenPasses: fn => {
          host.runBetweenPasses(fn);
        },
        appliedState: () => this.current,
        stopped: () => host.stopped(),
        appliedIndex: () => this.current.applier.appliedIndex(),
        confChangeIndex: () => host.confChangeIndex(),
        confState: () => host.confState(),
        snapshotData: () => Buffer.from(JSON.stringify(this.current.membership.list())),
      },
      {
        snapshotCount: config.snapshotCount,
        catchUpEntries: config.snapshotCatchUpEntries,
        skipBackendCommit: deps.bugs.has('snapshot-before-backend-commit'),
      },
      clock,
      observer,
      deps.logger,
    );
  }

  /** Everything applying entries changes; a snapshot from the leader replaces it. */
  get state(): AppliedState {
    return this.current;
  }

  /** Applies what raft committed: the snapshot first, if there is one, then the entries. */
  apply(snapshot: Snapshot | undefined, entries: readonly Entry[]): void | Promise<void> {
    if (snapshot !== undefined) {
      return this.host.installSnapshot(snapshot).then(() => {
        this.applyCommitted(entries);
      });
    }
    this.applyCommitted(entries);
  }

  /** Opens the applied state again from the backend file in place (after a snapshot install). */
  reopen(): void {
    this.current = this.open();
  }

  /** A member was added: raft must be able to send it a snapshot that knows it. */
  scheduleSnapshotForNewMember(): void {
    this.snapshots.scheduleForNewMember();
  }

  /**
   * Drops the backend writes not yet committed: after a failed apply they may hold part of
   * an entry, and none of it may reach the disk (the WAL still holds every entry).
   */
  discardPending(): void {
    this.backendCommits.cancel();
    this.current.kv.backend.discardPending();
  }

  /** Stops committing batches; call first when the member closes. */
  stopCommits(): void {
    this.backendCommits.cancel();
  }

  /** Waits for compactions in flight, then closes the store. */
  async close(): Promise<void> {
    await Promise.allSettled(this.pendingCompactions);
    await this.current.store.close();
  }

  private applyCommitted(entries: readonly Entry[]): void {
    const results = this.deps.bugs.has('drop-applied-index')
      ? this.applyDroppingAppliedIndex(entries)
      : this.current.applier.applyEntries(entries);
    this.backendCommits.commitSoon();
    for (const {id, result} of results) this.host.resolve(id, result);
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.host.applied(last.index);
      this.snapshots.maybeSnapshot(last.index, entries.length);
    }
  }

  /** The injected bug 'drop-applied-index': the batch's applied-index write never reaches the backend. */
  private applyDroppingAppliedIndex(
    entries: readonly Entry[],
  ): ReturnType<Applier['applyEntries']> {
    const backend = this.current.kv.backend;
    const key = Buffer.from('consistent_index');
    const before = backend.get('meta', key);
    const results = this.current.applier.applyEntries(entries);
    if (before !== undefined) backend.put('meta', key, before);
    return results;
  }

  private open(): AppliedState {
    return openAppliedState({
      ...this.deps,
      applyConfChange: entry => {
        this.host.applyConfChange(entry);
      },
      membershipChanged: () => {
        this.host.membershipChanged();
      },
      onCompaction: done => {
        this.pendingCompactions.push(done);
      },
    });
  }
}
