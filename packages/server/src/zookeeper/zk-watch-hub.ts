import type {KvEvent, WatchStream, WatchableStore} from '@synod/storage';

import {ZkKeys, prefixEnd} from './zk-keys.js';
import type {ZkChange} from './zk-watch-table.js';
import {znodeMzxid} from './znode-record.js';

/** What the hub tells each connection. */
export interface ZkWatchListener {
  /** The changes of one revision, in order. */
  changes(revision: number, changes: readonly ZkChange[]): void;
  /** Whether any watch is set: the hub turns events into changes only for such listeners. */
  readonly watching: boolean;
  /** A session ended (closed, expired, revoked) on this member's applied state. */
  sessionEnded(sessionId: bigint): void;
  /**
   * The member replaced its store with a snapshot from the leader. Changes the snapshot
   * carries fire no watch here, so the connection must end, as a ZooKeeper follower that
   * resyncs with its leader drops its clients: the client resumes its session, sets its
   * watches again with the last zxid it saw, and hears what changed.
   */
  storeClosed(): void;
}

/** How often the hub looks for the member's new store after its old one closed. */
const REOPEN_POLL_MS = 20;

/**
 * A member's one watch on ZooKeeper's part of the keyspace, turned into
 * ZooKeeper's changes and handed to every connection. It drains its stream
 * synchronously as the apply path queues a revision, so the notifications of
 * revision r are written before the reply to any request applied or read after
 * it: ZooKeeper's "a client sees the event before the new data".
 */
export class ZkWatchHub {
  private readonly listeners = new Set<ZkWatchListener>();
  private stream: WatchStream | undefined;
  private store: WatchableStore | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(private readonly currentStore: () => WatchableStore) {}

  add(listener: ZkWatchListener): void {
    this.ensureWatching();
    this.listeners.add(listener);
  }

  delete(listener: ZkWatchListener): void {
    this.listeners.delete(listener);
  }

  /**
   * A node whose data is not kept in the store changed (`/zookeeper/config`, with the
   * membership): its data watches fire as for a setData.
   */
  dataChangedOutsideStore(path: string): void {
    const revision = this.currentStore().rev();
    for (const l of this.listeners) l.changes(revision, [{type: 'dataChanged', path}]);
  }

  close(): void {
    clearInterval(this.reopenTimer);
    this.reopenTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    this.listeners.clear();
  }

  /** Follows the member's store, which a snapshot from the leader replaces. */
  follow(): void {
    if (this.listeners.size > 0) this.ensureWatching();
  }

  private ensureWatching(): void {
    const store = this.currentStore();
    if (this.store === store && this.stream !== undefined) return;
    this.stream?.close();
    this.store = store;
    const stream = store.newWatchStream();
    const start = Buffer.from(ZkKeys.prefix);
    stream.watch({key: start, rangeEnd: prefixEnd(start)});
    stream.onReadable(() => {
      for (const resp of stream.drain()) this.dispatch(resp.events);
      if (stream.isClosed && this.stream === stream) this.storeClosed(store);
    });
    this.stream = stream;
  }

  /**
   * The store closed while this hub watched it (the hub closes its own streams only after
   * forgetting them). Once the member has opened its next store, every connection is told to
   * end, so that its client resumes its session on a member whose store has it (a handshake
   * in between would find no session and be told it expired), and the hub watches the new
   * store for the connections to come.
   */
  private storeClosed(closed: WatchableStore): void {
    this.stream = undefined;
    clearInterval(this.reopenTimer);
    this.reopenTimer = setInterval(() => {
      if (this.currentStore() === closed) return;
      clearInterval(this.reopenTimer);
      this.reopenTimer = undefined;
      for (const l of [...this.listeners]) l.storeClosed();
      if (this.listeners.size > 0) this.ensureWatching();
    }, REOPEN_POLL_MS);
    this.reopenTimer.unref();
  }

  private dispatch(events: readonly KvEvent[]): void {
    // With no watch set anywhere (a write-heavy load usually), only session ends matter.
    let watching = false;
    for (const l of this.listeners) {
      if (l.watching) {
        watching = true;
        break;
      }
    }
    let rev = -1;
    let batch: ZkChange[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      for (const l of this.listeners) l.changes(rev, batch);
      batch = [];
    };
    for (const e of events) {
      if (e.kv.modRevision !== rev) {
        flush();
        rev = e.kv.modRevision;
      }
      if (!watching && !(e.type === 'delete' && isSessionKey(e.kv.key))) continue;
      const key = Buffer.from(e.kv.key).toString('utf8');
      if (key.startsWith(ZkKeys.sessionPrefix)) {
        if (e.type !== 'delete') continue;
        const id = BigInt.asIntN(64, BigInt(`0x${key.slice(ZkKeys.sessionPrefix.length)}`));
        flush();
        for (const l of this.listeners) l.sessionEnded(id);
        continue;
      }
      const change = toChange(e);
      if (change !== undefined) batch.push(change);
    }
    flush();
  }
}

const sessionPrefixBytes = Buffer.from(ZkKeys.sessionPrefix);

function isSessionKey(key: Uint8Array): boolean {
  if (key.length < sessionPrefixBytes.length) return false;
  for (let i = 0; i < sessionPrefixBytes.length; i++) {
    if (key[i] !== sessionPrefixBytes[i]) return false;
  }
  return true;
}

function toChange(e: KvEvent): ZkChange | undefined {
  const path = ZkKeys.pathOfNode(e.kv.key);
  if (path === undefined) return undefined;
  if (e.type === 'delete') return {type: 'deleted', path};
  if (e.kv.createRevision === e.kv.modRevision) return {type: 'created', path};
  // A setACL rewrites the record without moving mzxid: no data event. A value an etcd client
  // wrote there is no znode record, and no event either.
  return znodeMzxid(e.kv.value) === e.kv.modRevision ? {type: 'dataChanged', path} : undefined;
}
