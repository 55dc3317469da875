import {compare, op} from '@synod/client';
import type {Comparison, KeyValue} from '@synod/client';
import {ReplaySubject, concat, distinctUntilChanged, map, of, share, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import type {KeySnapshot} from './key-snapshot.js';
import {SessionExpiredError, leaseHex, linkSignals} from './mutex.js';
import type {LinkedSignal} from './mutex.js';
import type {Session} from './session.js';
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
  private leaderRevision: bigint | undefined;

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
  }

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
    if (!result.succeeded) {
      const existing = result.responses[0];
      const kv = existing?.type === 'range' ? existing.kvs[0] : undefined;
      myRevision = kv?.createRevision ?? myRevision;
      if (kv !== undefined && kv.valueString !== value) {
        this.leaderRevision = myRevision;
        await this.proclaim(value);
      }
    }
    this.leaderRevision = myRevision;
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
    } catch (error) {
      this.leaderRevision = undefined;
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
      this.leaderRevision = undefined;
      throw new NotLeaderError(this.name);
    }
  }

  /** Gives up leadership (or candidacy): deletes this session's key. No-op if not campaigning. */
  async resign(): Promise<void> {
    const revision = this.leaderRevision;
    if (revision === undefined) return;
    this.leaderRevision = undefined;
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
