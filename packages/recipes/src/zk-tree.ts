import {compare, op} from '@synod/client';
import type {KeyValue} from '@synod/client';
import {ReplaySubject, distinctUntilChanged, map, share, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import type {Session} from './session.js';
import {
  BadVersionError,
  NoChildrenForEphemeralsError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
} from './zk-errors.js';

/** ZooKeeper's node kinds. */
export enum CreateMode {
  /** Lives until deleted. */
  PERSISTENT = 0,
  /** Deleted when the session ends; cannot have children. */
  EPHEMERAL = 1,
  /** Persistent, with a 10-digit per-parent sequence number appended to the name. */
  PERSISTENT_SEQUENTIAL = 2,
  /** Ephemeral and sequential. */
  EPHEMERAL_SEQUENTIAL = 3,
}

/** A node's metadata, after ZooKeeper's `Stat`. */
export interface Stat {
  /** Revision of the create (ZooKeeper's czxid). */
  readonly czxid: bigint;
  /** Revision of the last data change (mzxid). */
  readonly mzxid: bigint;
  /** Number of data changes since creation: 0 after create. */
  readonly version: number;
  /** The owning session's lease for an ephemeral node, 0n otherwise. */
  readonly ephemeralOwner: bigint;
  readonly dataLength: number;
}

/** A node's data and stat. */
export interface NodeData {
  readonly data: Buffer;
  readonly stat: Stat;
}

/** Options of {@link ZkTree}. */
export interface ZkTreeOptions {
  /** Key prefix of the tree, `/zk` by default. */
  readonly root?: string;
}

/**
 * A ZooKeeper-style tree of nodes over etcd keys.
 *
 * Key layout, under `root` (`/zk` by default):
 * - `root/d/<depth, 3 digits><path>`: a node's data (the raw bytes). The depth prefix
 *   makes a node's children one prefix range: the children of `/a` (depth 1) are the
 *   keys under `root/d/002/a/`. Version = etcd key version - 1, czxid / mzxid = create
 *   / mod revision, ephemeralOwner = the key's lease.
 * - `root/s<path>`: the next sequence number of `path`'s sequential children (decimal).
 * - Ephemeral nodes are put with the session's lease, so the server deletes them when
 *   the session ends. The root `/` always exists and holds no data.
 *
 * Every change is one transaction that checks what ZooKeeper checks (parent exists and is
 * not ephemeral, node absent, version, no children), so concurrent clients never see a
 * half-applied operation.
 */
export class ZkTree {
  private readonly root: string;
  private readonly dataStreams = new Map<string, Observable<NodeData | null>>();
  private readonly childStreams = new Map<string, Observable<readonly string[]>>();

  constructor(
    private readonly session: Session,
    options: ZkTreeOptions = {},
  ) {
    this.root = options.root ?? '/zk';
  }

  /**
   * Creates a node and resolves with its path (with the sequence number for sequential
   * modes). The third argument is a {@link CreateMode} or `{mode}`. Rejects with
   * {@link NoNodeError} when the parent is missing, {@link NodeExistsError},
   * {@link NoChildrenForEphemeralsError}.
   */
  async create(
    path: string,
    data: string | Uint8Array = '',
    mode: CreateMode | {readonly mode?: CreateMode} = CreateMode.PERSISTENT,
  ): Promise<string> {
    const createMode = typeof mode === 'number' ? mode : (mode.mode ?? CreateMode.PERSISTENT);
    checkPath(path, createMode >= CreateMode.PERSISTENT_SEQUENTIAL);
    if (path === '/') throw new NodeExistsError(path);
    const parent = parentOf(path);
    const ephemeral =
      createMode === CreateMode.EPHEMERAL || createMode === CreateMode.EPHEMERAL_SEQUENTIAL;
    const sequential = createMode >= CreateMode.PERSISTENT_SEQUENTIAL;
    const client = this.session.client;
    const parentGuards =
      parent === '/'
        ? []
        : [
            compare.version(this.dataKey(parent), '>', 0),
            compare.lease(this.dataKey(parent), '=', 0),
          ];
    for (;;) {
      let name = path;
      const sequenceGuards = [];
      const sequenceOps = [];
      if (sequential) {
        const seqKey = this.sequenceKey(parent);
        const seq = await client.kv.get(seqKey);
        const next = BigInt(seq?.valueString ?? '0');
        // ZooKeeper's counter is a signed 32-bit int that wraps; keep its format.
        name = path + BigInt.asIntN(32, next).toString().padStart(10, '0');
        sequenceGuards.push(compare.modRevision(seqKey, '=', seq?.modRevision ?? 0n));
        sequenceOps.push(op.put(seqKey, (next + 1n).toString()));
      }
      const key = this.dataKey(name);
      const result = await client.kv
        .txn()
        .if(...parentGuards, ...sequenceGuards, compare.version(key, '=', 0))
        .then(op.put(key, data, ephemeral ? {lease: this.session.lease} : {}), ...sequenceOps)
        .else(
          op.get(parent === '/' ? key : this.dataKey(parent)),
          op.get(key),
          ...(sequential ? [op.get(this.sequenceKey(parent))] : []),
        )
        .commit();
      if (result.succeeded) return name;
      const [parentRead, nodeRead] = result.responses.map(r =>
        r.type === 'range' ? r.kvs[0] : undefined,
      );
      if (parent !== '/') {
        if (parentRead === undefined) throw new NoNodeError(parent);
        if (parentRead.lease !== 0n) throw new NoChildrenForEphemeralsError(path);
      }
      if (nodeRead !== undefined && !sequential) throw new NodeExistsError(name);
      // The sequence moved (or a sequential name was taken by hand): take the next number.
    }
  }

  /** A node's data and stat; rejects with {@link NoNodeError} when it does not exist. */
  async getData(path: string): Promise<NodeData> {
    checkPath(path);
    const kv = await this.session.client.kv.get(this.dataKey(path));
    if (kv === undefined) throw new NoNodeError(path);
    return nodeData(kv);
  }

  /** A node's stat, or null when it does not exist. */
  async exists(path: string): Promise<Stat | null> {
    checkPath(path);
    if (path === '/') return rootStat;
    const kv = await this.session.client.kv.get(this.dataKey(path));
    return kv === undefined ? null : statOf(kv);
  }

  /**
   * Replaces a node's data if its version is `version` (-1: any) and resolves with the
   * new stat. Rejects with {@link NoNodeError} or {@link BadVersionError}.
   */
  async setData(path: string, data: string | Uint8Array, version = -1): Promise<Stat> {
    checkPath(path);
    const key = this.dataKey(path);
    const result = await this.session.client.kv
      .txn()
      .if(compare.version(key, '>', 0), ...versionGuard(key, version))
      .then(op.put(key, data, {ignoreLease: true}), op.get(key))
      .else(op.get(key))
      .commit();
    const read = result.responses.at(-1);
    const kv = read?.type === 'range' ? read.kvs[0] : undefined;
    if (kv === undefined) throw new NoNodeError(path);
    if (!result.succeeded) throw new BadVersionError(path, version, Number(kv.version) - 1);
    return statOf(kv);
  }

  /**
   * Deletes a node if its version is `version` (-1: any) and it has no children. Rejects
   * with {@link NoNodeError}, {@link BadVersionError} or {@link NotEmptyError}.
   */
  async delete(path: string, version = -1): Promise<void> {
    checkPath(path);
    if (path === '/') throw new RangeError('the root node cannot be deleted');
    const key = this.dataKey(path);
    const children = {prefix: this.childPrefix(path)};
    const result = await this.session.client.kv
      .txn()
      .if(
        compare.version(key, '>', 0),
        ...versionGuard(key, version),
        // Over a range, every key must match: true only when there is no child at all.
        compare.createRevision(children, '=', 0),
      )
      .then(op.delete(key), op.delete(this.sequenceKey(path)))
      .else(op.get(key), op.range(children, {countOnly: true}))
      .commit();
    if (result.succeeded) return;
    const [nodeRead, childRead] = result.responses;
    const kv = nodeRead?.type === 'range' ? nodeRead.kvs[0] : undefined;
    if (kv === undefined) throw new NoNodeError(path);
    if (version !== -1 && Number(kv.version) - 1 !== version) {
      throw new BadVersionError(path, version, Number(kv.version) - 1);
    }
    if (childRead?.type === 'range' && childRead.count > 0) throw new NotEmptyError(path);
    throw new Error(`delete of ${path} failed for an unknown reason; retry`);
  }

  /** The names of a node's children, sorted; rejects with {@link NoNodeError}. */
  async getChildren(path: string): Promise<string[]> {
    checkPath(path);
    const client = this.session.client;
    const result = await client.kv
      .txn()
      .then(
        op.get(this.dataKey(path)),
        op.range({prefix: this.childPrefix(path)}, {keysOnly: true}),
      )
      .commit();
    const [nodeRead, childRead] = result.responses;
    if (path !== '/' && (nodeRead?.type !== 'range' || nodeRead.kvs.length === 0)) {
      throw new NoNodeError(path);
    }
    const prefix = this.childPrefix(path);
    return childRead?.type === 'range'
      ? childRead.kvs.map(kv => kv.keyString.slice(prefix.length)).sort()
      : [];
  }

  /**
   * A node's data and stat, or `null` while it does not exist, then every change. Cold,
   * one shared watch per path, latest value replayed, cancelled when the last subscriber
   * leaves; transient faults retried inside; errors only when the watch is refused;
   * completes when the session or client closes.
   */
  data$(path: string): Observable<NodeData | null> {
    checkPath(path);
    let stream = this.dataStreams.get(path);
    if (stream === undefined) {
      const key = this.dataKey(path);
      stream = keySnapshot$(this.session.client, key).pipe(
        map(s => {
          const kv = s.kvs.get(key);
          return kv === undefined ? null : nodeData(kv);
        }),
        distinctUntilChanged(
          (a, b) => a?.stat.mzxid === b?.stat.mzxid && a?.stat.czxid === b?.stat.czxid,
        ),
        takeUntil(this.session.closed$),
        share({
          connector: () => new ReplaySubject(1),
          resetOnError: true,
          resetOnComplete: true,
          resetOnRefCountZero: true,
        }),
      );
      this.dataStreams.set(path, stream);
    }
    return stream;
  }

  /**
   * The sorted names of a node's children, then the new list on every create or delete
   * of a child (an empty list while the node has none or does not exist). Same sharing
   * and lifetime as {@link data$}.
   */
  children$(path: string): Observable<readonly string[]> {
    checkPath(path);
    let stream = this.childStreams.get(path);
    if (stream === undefined) {
      const prefix = this.childPrefix(path);
      stream = keySnapshot$(this.session.client, {prefix}).pipe(
        map(s => Object.freeze([...s.kvs.keys()].map(k => k.slice(prefix.length)).sort())),
        distinctUntilChanged((a, b) => a.length === b.length && a.every((x, i) => x === b[i])),
        takeUntil(this.session.closed$),
        share({
          connector: () => new ReplaySubject(1),
          resetOnError: true,
          resetOnComplete: true,
          resetOnRefCountZero: true,
        }),
      );
      this.childStreams.set(path, stream);
    }
    return stream;
  }

  /** The data key of a node: `root/d/<depth><path>`. */
  private dataKey(path: string): string {
    return `${this.root}/d/${depthOf(path).toString().padStart(3, '0')}${path}`;
  }

  /** The prefix of a node's children's data keys. */
  private childPrefix(path: string): string {
    const depth = (depthOf(path) + 1).toString().padStart(3, '0');
    return `${this.root}/d/${depth}${path === '/' ? '/' : `${path}/`}`;
  }

  private sequenceKey(path: string): string {
    return `${this.root}/s${path}`;
  }
}

const rootStat: Stat = {czxid: 0n, mzxid: 0n, version: 0, ephemeralOwner: 0n, dataLength: 0};

function statOf(kv: KeyValue): Stat {
  return {
    czxid: kv.createRevision,
    mzxid: kv.modRevision,
    version: Number(kv.version) - 1,
    ephemeralOwner: kv.lease,
    dataLength: kv.value.length,
  };
}

function nodeData(kv: KeyValue): NodeData {
  return {data: kv.value, stat: statOf(kv)};
}

function versionGuard(key: string, version: number): ReturnType<typeof compare.version>[] {
  return version === -1 ? [] : [compare.version(key, '=', version + 1)];
}

function depthOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

function hasControlCharacter(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** Checks a path as ZooKeeper does: absolute, no empty, `.` or `..` components. */
function checkPath(path: string, sequential = false): void {
  const valid =
    path === '/' ||
    (path.startsWith('/') &&
      (sequential || !path.endsWith('/')) &&
      path
        .slice(1)
        .split('/')
        .every(
          (part, i, all) =>
            (part !== '' || (sequential && i === all.length - 1)) && part !== '.' && part !== '..',
        ) &&
      !hasControlCharacter(path));
  if (!valid) {
    throw new RangeError(
      `invalid path ${JSON.stringify(path)}: use an absolute path like /app/node, without ` +
        'empty, "." or ".." parts or control characters',
    );
  }
}
