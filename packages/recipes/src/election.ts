import {compare, op} from '@synod/client';
import type {Comparison, KeyValue} from '@synod/client';
import {
  ReplaySubject,
  Subject,
  concat,
  distinctUntilChanged,
  map,
  merge,
  of,
  share,
  takeUntil,
  tap,
} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import type {KeySnapshot} from './key-snapshot.js';
import {SessionExpiredError, leaseHex, linkSignals} from './mutex.js';
import type {LinkedSignal} from './mutex.js';
import {statusOnLease} from './session.js';
import type {LeaseState, Session} from './session.js';
import {stateStream} from './state-stream.js';
import {waitForDeletesBelow} from './wait-for-deletes.js';

/** The current leader of an election. */
export interface LeaderInfo {
  /** The leader's key, `prefix/<lease in hex>`. */
  readonly key: string;
  /** The value the leader proclaimed. */
  readonly value: string;
  /** Create revision of the leader's key: grows with every new leadership (a fencing token). */
  readonly createRevision: bigint;
  /** Revision of the last proclamation. */
  readonly modRevision: bigint;
  /** The leader's lease. */
  readonly lease: bigint;
}

/** A leader as this process knows it, and since when. */
export interface LeaderState extends LeaderInfo {
  /**
   * When this process first knew of this leadership (this key with this create revision),
   * in ms since the epoch by its clock: when `leader$` first showed it, or when this
   * session's own `campaign` resolved.
   */
  readonly sinceMs: number;
}

/**
 * What an {@link Election} is doing in this process:
 *
 * - `idle`: not a candidate (never campaigned, resigned, or lost a `proclaim`);
 * - `campaigning`: `campaign` waits in line;
 * - `leading`: `campaign` resolved, and neither `resign` nor a refused `proclaim` followed;
 * - `lost`: campaigning or leading, but the session's lease is no longer kept (lost or
 *   closed), so another candidate may lead: stop acting as leader.
 */
export type ElectionStatus = 'idle' | 'campaigning' | 'leading' | 'lost';

/** An {@link Election}'s state, known without a round trip: for logs and metrics. */
export interface ElectionState {
  /** The election's name. */
  readonly name: string;
  /** This session's key, `name/<lease in hex>`. */
  readonly key: string;
  readonly status: ElectionStatus;
  /** When `status` became what it is, in ms since the epoch by this process's clock. */
  readonly sinceMs: number;
  /** The value this session campaigned with or last proclaimed; undefined when `idle`. */
  readonly value: string | undefined;
  /**
   * The create revision of this session's key: the fencing token `guard()` compares while
   * `leading`, the place in line while `campaigning`; undefined when `idle`.
   */
  readonly fencingToken: bigint | undefined;
  /**
   * The leader, whoever it is: as `leader$` last showed it while anything subscribes to
   * `leader$` (`state$` does); otherwise this session while it is `leading`; otherwise
   * undefined, as it cannot be known without a read. `null` when `leader$` shows none.
   */
  readonly leader: LeaderState | null | undefined;
  /** The session's lease, as last known from keep-alives. */
  readonly lease: LeaseState;
}

/** Thrown by `proclaim` and `resign` when this session is not the leader. */
export class NotLeaderError extends Error {
  constructor(election: string) {
    super(`not the leader of election ${election}: campaign first (or leadership was lost)`);
    this.name = 'NotLeaderError';
  }
}

/** The leader in a snapshot of the election's keys: the oldest key. Pure. */
export function leaderOf(snapshot: KeySnapshot): LeaderInfo | null {
  let oldest: KeyValue | undefined;
  for (const kv of snapshot.kvs.values()) {
    if (oldest === undefined || kv.createRevision < oldest.createRevision) oldest = kv;
  }
  if (oldest === undefined) return null;
  return {
    key: oldest.keyString,
    value: oldest.valueString,
    createRevision: oldest.createRevision,
    modRevision: oldest.modRevision,
    lease: oldest.lease,
  };
}

/**
 * A leader election with etcd's key layout (`concurrency.Election`), so it interoperates
 * with `etcdctl elect <name>`: each candidate creates `name/<lease in hex>` under its
 * session's lease; the oldest key is the leader, and its value is what the leader
 * proclaims.
 */
export class Election {
  private readonly prefix: string;
  private readonly changes = new Subject<void>();
  /** The create revision of this session's campaign key, while campaigning or leading. */
  private leaderRevision: bigint | undefined;
  /** Whether `campaign` resolved for `leaderRevision` (and nothing since gave it up). */
  private leading = false;
  /** This session's value and the revision it was written at, while campaigning or leading. */
  private mine: {readonly value: string; readonly modRevision: bigint} | undefined;
  // Invariant: status and statusSinceMs are what recordStatus last derived from the above.
  private status: Exclude<ElectionStatus, 'lost'> = 'idle';
  private statusSinceMs = Date.now();
  /** The fencing token and value `state$` was last told of. */
  private told: {readonly fencingToken?: bigint; readonly value?: string} = {};
  /** The leader as `leader$` last showed it; undefined while `leader$` has no subscriber. */
  private observedLeader: LeaderState | null | undefined;

  constructor(
    private readonly session: Session,
    /** The election's name; keys live under `name + '/'`. */
    readonly name: string,
  ) {
    this.prefix = `${name}/`;
    this.leader$ = keySnapshot$(session.client, {prefix: this.prefix}).pipe(
      map(leaderOf),
      distinctUntilChanged((a, b) => a?.key === b?.key && a?.modRevision === b?.modRevision),
      takeUntil(session.closed$),
      tap({
        next: leader => {
          this.observeLeader(leader);
        },
        finalize: () => {
          this.observedLeader = undefined;
        },
      }),
      share({
        connector: () => new ReplaySubject(1),
        resetOnError: true,
        resetOnComplete: true,
        resetOnRefCountZero: true,
      }),
    );
    this.isLeader$ = concat(
      this.leader$.pipe(
        map(
          leader =>
            leader !== null &&
            leader.key === this.key &&
            leader.createRevision === this.leaderRevision,
        ),
        takeUntil(session.lost$),
      ),
      of(false),
    ).pipe(
      distinctUntilChanged(),
      share({
        connector: () => new ReplaySubject(1),
        resetOnError: true,
        resetOnComplete: true,
        resetOnRefCountZero: true,
      }),
    );
    this.state$ = stateStream(
      () => this.state,
      merge(this.changes, session.lost$, this.leader$),
      session.closed$,
    );
  }

  /**
   * What this session does in the election and who leads, from what this process knows
   * (no round trip): status and since when, this session's value and fencing token, the
   * leader (see {@link ElectionState.leader}) and the session's lease.
   */
  get state(): ElectionState {
    const lease = this.session.state;
    return {
      name: this.name,
      key: this.key,
      ...statusOnLease(this.status, this.statusSinceMs, lease, ['campaigning', 'leading']),
      value: this.mine?.value,
      fencingToken: this.leaderRevision,
      leader: this.observedLeader === undefined ? this.ownLeadership() : this.observedLeader,
      lease,
    };
  }

  /**
   * {@link state} on subscribe, then a new snapshot whenever this session's status, value
   * or fencing token changes, the leader or its value changes, or the session's lease is
   * lost (not on every keep-alive: read `state` for the current TTL).
   *
   * Subscribing subscribes to {@link leader$} (one shared watch of the election's keys), so
   * `leader` is known while `state$` is subscribed. Errors when `leader$` does. Completes,
   * after a last snapshot, when the session is closed. Shared, with the latest snapshot
   * replayed to a late subscriber; the watch is cancelled when the last subscriber leaves.
   */
  readonly state$: Observable<ElectionState>;

  /** This session's key in the election: `name/<lease in hex>`. */
  get key(): string {
    return this.prefix + leaseHex(this.session.lease);
  }

  /**
   * The current leader, or `null` when there is none, then every change of leader or of
   * its proclaimed value.
   *
   * Cold: the first subscriber starts one read-then-watch of the election's keys, shared
   * by every later subscriber, who gets the latest value replayed; the watch is cancelled
   * when the last subscriber leaves. Leaderless periods emit `null` and do not complete.
   * Transient faults and compaction are retried inside (a value may be skipped, never
   * reordered: the latest is always emitted). Errors only when the cluster refuses the
   * watch (permission denied, say). Completes when the session or the client is closed.
   */
  readonly leader$: Observable<LeaderInfo | null>;

  /**
   * Whether this session leads: first once the election's keys are read, then every
   * change. Turns `false` as soon
   * as the session's lease cannot be kept (`session.lost$`), before the server expires
   * it, and stays `false` after that, because a leader that may have been replaced must
   * stop acting. Shared and replayed like {@link leader$}; completes with it.
   */
  readonly isLeader$: Observable<boolean>;

  /**
   * Becomes a candidate with `value` and resolves once this session leads. A session
   * that already campaigned keeps its place in line (and proclaims `value`). Rejects
   * with the signal's reason when aborted (withdrawing the candidacy), or with
   * {@link SessionExpiredError} when the lease is lost while waiting.
   */
  async campaign(value: string, options: {readonly signal?: AbortSignal} = {}): Promise<void> {
    const client = this.session.client;
    const result = await client.kv
      .txn()
      .if(compare.createRevision(this.key, '=', 0))
      .then(op.put(this.key, value, {lease: this.session.lease}))
      .else(op.get(this.key))
      .commit();
    let myRevision = result.header.revision;
    let written = {value, modRevision: myRevision};
    const existing = result.succeeded ? undefined : result.responses[0];
    const kv = existing?.type === 'range' ? existing.kvs[0] : undefined;
    if (kv !== undefined) {
      myRevision = kv.createRevision;
      written = {value: kv.valueString, modRevision: kv.modRevision};
    }
    this.takeCandidacy(myRevision, written);
    if (written.value !== value) await this.proclaim(value);
    const lostController = new AbortController();
    const onLost = this.session.lost$.subscribe(() => {
      lostController.abort(new SessionExpiredError(`election ${this.name}`));
    });
    let linked: LinkedSignal | undefined;
    try {
      linked = linkSignals(options.signal, lostController.signal);
      await waitForDeletesBelow(client, Buffer.from(this.prefix), myRevision, linked.signal);
      const mine = await client.kv.get(this.key);
      if (mine?.createRevision !== myRevision)
        throw new SessionExpiredError(`election ${this.name}`);
      if (this.leaderRevision === myRevision) {
        this.leading = true;
        const seen = this.observedLeader;
        const seenAlready = seen?.key === this.key && seen.createRevision === myRevision;
        this.recordStatus(seenAlready ? seen.sinceMs : undefined);
      }
    } catch (error) {
      this.giveUp();
      await client.kv
        .txn()
        .if(compare.createRevision(this.key, '=', myRevision))
        .then(op.delete(this.key))
        .commit()
        .catch(() => undefined);
      throw lostController.signal.aborted ? lostController.signal.reason : error;
    } finally {
      linked?.unlink();
      onLost.unsubscribe();
    }
  }

  /**
   * Changes the leader's value, guarded by this session's leadership. Rejects with
   * {@link NotLeaderError} when this session does not lead.
   */
  async proclaim(value: string): Promise<void> {
    const revision = this.leaderRevision;
    if (revision === undefined) throw new NotLeaderError(this.name);
    const result = await this.session.client.kv
      .txn()
      .if(compare.createRevision(this.key, '=', revision))
      .then(op.put(this.key, value, {lease: this.session.lease}))
      .commit();
    if (!result.succeeded) {
      this.giveUp();
      throw new NotLeaderError(this.name);
    }
    if (this.leaderRevision === revision) {
      this.mine = {value, modRevision: result.header.revision};
      this.recordStatus();
    }
  }

  /** Gives up leadership (or candidacy): deletes this session's key. No-op if not campaigning. */
  async resign(): Promise<void> {
    const revision = this.leaderRevision;
    if (revision === undefined) return;
    this.giveUp();
    await this.session.client.kv
      .txn()
      .if(compare.createRevision(this.key, '=', revision))
      .then(op.delete(this.key))
      .commit();
  }

  /**
   * `CreateRevision(myKey) == my campaign's revision`: add it to a transaction so that it
   * applies only while this session still leads (or at least still campaigns: use it
   * after `campaign` resolved). Throws {@link NotLeaderError} when not campaigning.
   */
  guard(): Comparison {
    const revision = this.leaderRevision;
    if (revision === undefined) throw new NotLeaderError(this.name);
    return compare.createRevision(this.key, '=', revision);
  }

  /** Notes that this session campaigns with the key created at `revision`, holding `mine`. */
  private takeCandidacy(
    revision: bigint,
    mine: {readonly value: string; readonly modRevision: bigint},
  ): void {
    if (this.leaderRevision !== revision) {
      this.leaderRevision = revision;
      this.leading = false;
    }
    this.mine = mine;
    this.recordStatus();
  }

  /** Notes that this session no longer campaigns nor leads. */
  private giveUp(): void {
    this.leaderRevision = undefined;
    this.leading = false;
    this.mine = undefined;
    this.recordStatus();
  }

  /**
   * Derives the status and notes when it changed (at `sinceMs` when given), then tells
   * `state$` if the status, the fencing token or the value changed.
   */
  private recordStatus(sinceMs?: number): void {
    const status =
      this.leaderRevision === undefined ? 'idle' : this.leading ? 'leading' : 'campaigning';
    const told = this.told;
    if (
      status === this.status &&
      told.fencingToken === this.leaderRevision &&
      told.value === this.mine?.value
    ) {
      return;
    }
    if (status !== this.status) {
      this.status = status;
      this.statusSinceMs = sinceMs ?? Date.now();
    }
    this.told = {fencingToken: this.leaderRevision, value: this.mine?.value};
    this.changes.next();
  }

  /** This session as the leader, while its own campaign says it leads. */
  private ownLeadership(): LeaderState | undefined {
    const revision = this.leaderRevision;
    if (this.status !== 'leading' || revision === undefined || this.mine === undefined) {
      return undefined;
    }
    if (!this.session.active) return undefined;
    return {
      key: this.key,
      value: this.mine.value,
      createRevision: revision,
      modRevision: this.mine.modRevision,
      lease: this.session.lease,
      sinceMs: this.statusSinceMs,
    };
  }

  /** Records what `leader$` shows, keeping the time a leadership was first known. */
  private observeLeader(leader: LeaderInfo | null): void {
    if (leader === null) {
      this.observedLeader = null;
    } else {
      const known = [this.observedLeader, this.ownLeadership()].find(
        l => l?.key === leader.key && l.createRevision === leader.createRevision,
      );
      this.observedLeader = {...leader, sinceMs: known?.sinceMs ?? Date.now()};
    }
  }

  /** The current leader, read once; `null` when there is none. */
  async leader(): Promise<LeaderInfo | null> {
    const read = await this.session.client.kv.range(
      {prefix: this.prefix},
      {sort: {target: 'create', order: 'ascend'}, limit: 1},
    );
    const kv = read.kvs[0];
    return kv === undefined
      ? null
      : leaderOf({revision: read.header.revision, kvs: new Map([[kv.keyString, kv]])});
  }
}
