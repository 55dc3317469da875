import * as path from 'node:path';
import type {Entry} from '@synod/proto/raftpb';
import {HardState} from '@synod/proto/raftpb';
import type {FileHandle, FileSystem} from '../fs/file-system.js';
import {NodeFileSystem} from '../fs/node-file-system.js';
import {SECTOR_BYTES} from '../fs/crash-file-system.js';
import {
  RecordEncoder,
  RecordType,
  decodeEntry,
  decodeRecord,
  entryFrameBytes,
  frameBytes,
  isZero,
} from './record.js';
import {WalCorruptionError} from './wal-corruption-error.js';

/** Index and term of the snapshot the log continues from. */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
}

/** What a WAL holds, as read back by {@link Wal.open}. */
export interface WalReplay {
  /** The bytes given to {@link Wal.create}. */
  readonly metadata: Uint8Array;
  /** Last hard state saved, or undefined if none was. */
  readonly hardState: HardState | undefined;
  /** Latest snapshot marker (`{index: 0, term: 0}` for a fresh log). */
  readonly snapshot: SnapshotMarker;
  /**
   * Entries after `snapshot.index`, contiguous; where a later batch rewrote an index, the
   * later entry wins and everything after it from the earlier batch is dropped.
   */
  readonly entries: Entry[];
}

/** Options shared by {@link Wal.create} and {@link Wal.open}. */
export interface WalOptions {
  /** Defaults to the real file system. */
  readonly fs?: FileSystem;
  /** Size segments are preallocated to, and cut at; default 64 MiB. */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

const segmentName = (seq: number, firstIndex: number): string =>
  `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;

/**
 * Write-ahead log of raft entries and hard state.
 *
 * On disk: a directory of segment files `<seq>-<firstIndex>.wal` (16 hex digits each),
 * preallocated to `segmentBytes` (zero-filled, so a zero record head marks the end of the
 * data). Each segment starts with a CRC record carrying the checksum chain from the
 * previous segment, then the metadata, the latest snapshot marker and hard state, so any
 * suffix of segments is self-describing after older ones are released. Records are framed
 * by {@link RecordEncoder}; every record's CRC chains from the one before.
 *
 * Durability: {@link Wal.save} writes its batch with one write and one fdatasync; when it
 * returns the batch is durable. {@link Wal.saveAsync} does the same write, then waits for the
 * fdatasync on the threadpool, so the event loop keeps serving while the disk works; the
 * batch is durable when its promise resolves, and no other write may start before it settles
 * (the WAL throws if one does). New segments are written under a `.tmp` name, synced,
 * renamed, and the directory synced, all synchronously, before any batch goes into them.
 *
 * Recovery: {@link Wal.open} replays every segment. A damaged record at the tail of the last
 * segment (a write torn by a crash: the record runs past the end of the file, contains a
 * zero-filled sector, or is followed only by zeros) is cut off and the rest of the file
 * zeroed: that batch never returned from `save`. Damage anywhere else is corruption of
 * acknowledged data and fails with a {@link WalCorruptionError} naming file and offset; the
 * log is never silently truncated there. Known limit (shared with etcd): damage to the very
 * last record that looks like a torn write is indistinguishable from one.
 *
 * A failed write or fsync is fatal: the WAL marks itself unusable and rethrows, because
 * after a failed fsync the kernel may have dropped the dirty pages and a retry could report
 * success for data that is gone.
 */
export class Wal {
  private failure: unknown;
  private closed = false;
  /**
   * Settles when the fdatasync of the batch {@link saveAsync} last wrote does; undefined when
   * none is in flight. Invariant: while defined, nothing is written and the file stays open.
   */
  private syncing: Promise<void> | undefined;
  /** Whether bytes written to the current segment (a commit-only batch) await an fsync. */
  private unsynced = false;
  /** Bytes of records this WAL has written since it was opened (etcd's WAL write bytes). */
  private written = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly metadata: Uint8Array,
    private segments: Segment[],
    private file: FileHandle,
    private offset: number,
    private crc: number,
    private lastIndex: number,
    private snapshot: SnapshotMarker,
    private hardState: HardState | undefined,
  ) {}

  /** Bytes of records written since the WAL was opened: batches, markers, segment heads. */
  get bytesWritten(): number {
    return this.written;
  }

  /** True if `dir` holds a WAL (at least one segment). */
  static exists(dir: string, options: WalOptions = {}): boolean {
    const fs = options.fs ?? new NodeFileSystem();
    return fs.exists(dir) && fs.list(dir).some(n => SEGMENT_RE.test(n));
  }

  /**
   * Creates a WAL in `dir` (made if missing; must not already hold a WAL). The first segment
   * is written under a temporary name and renamed into place, so a crash leaves either no
   * WAL or a complete empty one.
   */
  static create(dir: string, metadata: Uint8Array, options: WalOptions = {}): Wal {
    const fs = options.fs ?? new NodeFileSystem();
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (Wal.exists(dir, options)) throw new Error(`WAL already exists in ${dir}`);
    fs.mkdirp(dir);
    const snapshot = {index: 0, term: 0};
    const first: Segment = {seq: 0, firstIndex: 0, name: segmentName(0, 0)};
    const {file, offset, crc} = writeSegmentHead(fs, dir, first, segmentBytes, {
      chainCrc: 0,
      metadata,
      snapshot,
      hardState: undefined,
    });
    return new Wal(
      fs,
      dir,
      segmentBytes,
      metadata,
      [first],
      file,
      offset,
      crc,
      0,
      snapshot,
      undefined,
    );
  }

  /**
   * Opens the WAL in `dir` for appending and returns what it holds. Repairs a torn tail
   * (see class comment); throws {@link WalCorruptionError} on damage elsewhere.
   */
  static open(dir: string, options: WalOptions = {}): {wal: Wal; replay: WalReplay} {
    const fs = options.fs ?? new NodeFileSystem();
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const names = fs.list(dir);
    for (const n of names) {
      // Leftover of a segment cut interrupted before its rename: never part of the log.
      if (n.endsWith('.wal.tmp')) fs.unlink(path.join(dir, n));
    }
    const segments: Segment[] = [];
    for (const n of names) {
      const m = SEGMENT_RE.exec(n);
      if (m === null) continue;
      segments.push({seq: parseInt(m[1] ?? '', 16), firstIndex: parseInt(m[2] ?? '', 16), name: n});
    }
    if (segments.length === 0) throw new Error(`no WAL in ${dir}`);
    for (let i = 1; i < segments.length; i++) {
      const prev = segments[i - 1] as Segment;
      const cur = segments[i] as Segment;
      if (cur.seq !== prev.seq + 1) {
        throw new WalCorruptionError(
          path.join(dir, cur.name),
          0,
          `segment ${prev.seq + 1} is missing`,
        );
      }
    }

    let metadata: Uint8Array | undefined;
    let hardState: HardState | undefined;
    let snapshot: SnapshotMarker = {index: 0, term: 0};
    let entries: Entry[] = [];
    let chain: number | undefined;
    let tail = {offset: 0, crc: 0};

    segments.forEach((seg, i) => {
      const file = path.join(dir, seg.name);
      const isLast = i === segments.length - 1;
      const buf = fs.readFile(file);
      let offset = 0;
      let crc = 0;
      // Records of the batch being read, applied only once its closing record is read.
      let batch: {type: RecordType; payload: Uint8Array}[] = [];
      let batchStart = {offset: 0, crc: 0};
      for (;;) {
        const r = decodeRecord(buf, offset, crc);
        if (r.kind === 'end') {
          if (!isLast && (batch.length > 0 || !isZero(buf, offset, buf.length))) {
            throw new WalCorruptionError(file, offset, 'segment ends inside a batch or in garbage');
          }
          if (batch.length > 0 || !isZero(buf, offset, buf.length)) {
            // A batch torn by a crash: it never returned from save(), drop all of it.
            repairTail(fs, file, buf, batchStart.offset);
            offset = batchStart.offset;
            crc = batchStart.crc;
          }
          break;
        }
        if (r.kind === 'bad') {
          if (isLast && batchStart.offset > 0 && isTornTail(buf, offset, r.frameEnd)) {
            repairTail(fs, file, buf, batchStart.offset);
            offset = batchStart.offset;
            crc = batchStart.crc;
            break;
          }
          throw new WalCorruptionError(file, offset, r.reason);
        }
        if (offset === 0 && r.type !== RecordType.Crc) {
          throw new WalCorruptionError(file, 0, 'segment does not start with a crc record');
        }
        if (r.type === RecordType.Crc) {
          const value = new DataView(r.payload.buffer, r.payload.byteOffset).getUint32(0, true);
          if (chain !== undefined && value !== chain) {
            throw new WalCorruptionError(file, offset, 'crc chain broken between segments');
          }
          crc = value;
        } else {
          crc = r.crc;
        }
        if (r.type === RecordType.Metadata) {
          if (metadata === undefined) metadata = r.payload.slice();
          else if (!bytesEqual(metadata, r.payload)) {
            throw new WalCorruptionError(file, offset, 'metadata differs from earlier segments');
          }
        }
        batch.push({type: r.type, payload: r.payload});
        offset = r.end;
        if (r.endsBatch) {
          for (const rec of batch) {
            if (rec.type === RecordType.Entry)
              entries = appendReplayed(entries, decodeEntry(rec.payload));
            else if (rec.type === RecordType.HardState) hardState = HardState.decode(rec.payload);
            else if (rec.type === RecordType.Snapshot) snapshot = decodeSnapshot(rec.payload);
          }
          batch = [];
          batchStart = {offset, crc};
        }
      }
      chain = crc;
      tail = {offset, crc};
    });

    if (metadata === undefined) throw new Error(`WAL in ${dir} has no metadata record`);
    entries = entries.filter(e => e.index > snapshot.index);
    const firstEntry = entries[0];
    if (firstEntry !== undefined && firstEntry.index !== snapshot.index + 1) {
      throw new WalCorruptionError(
        dir,
        0,
        `entries ${snapshot.index + 1}..${firstEntry.index - 1} are missing after snapshot`,
      );
    }
    const lastSeg = segments[segments.length - 1] as Segment;
    const file = fs.open(path.join(dir, lastSeg.name), false);
    const lastEntry = entries[entries.length - 1];
    const lastIndex = Math.max(lastEntry?.index ?? 0, snapshot.index, lastSeg.firstIndex - 1);
    const wal = new Wal(
      fs,
      dir,
      segmentBytes,
      metadata,
      segments,
      file,
      tail.offset,
      tail.crc,
      lastIndex,
      snapshot,
      hardState,
    );
    return {wal, replay: {metadata, hardState, snapshot, entries}};
  }

  /**
   * Appends `entries` then `hardState` (either may be empty) and makes them durable with one
   * fdatasync. Cuts a new segment first if the batch does not fit in the current one.
   *
   * With `sync` false the batch is written but not synced: raft asks for that when only the
   * commit index moved, which a crash may lose (it is learned again from the leader). The next
   * synced batch makes it durable along with itself.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[], sync = true): void {
    if (hardState === undefined && entries.length === 0) return;
    this.guard(() => {
      this.writeBatch(hardState, entries);
      if (sync) this.syncNow();
    });
  }

  /**
   * {@link save} without blocking the event loop on the fsync: the batch is written (into the
   * page cache) before this returns, and the promise resolves once it is durable. Until it
   * settles no other write may start; a failed fsync rejects and leaves the WAL unusable.
   */
  async saveAsync(
    hardState: HardState | undefined,
    entries: readonly Entry[],
    sync = true,
  ): Promise<void> {
    if (hardState === undefined && entries.length === 0) return;
    this.guard(() => {
      this.writeBatch(hardState, entries);
    });
    if (!sync) return;
    const done = this.file.syncAsync();
    this.syncing = done.then(
      () => undefined,
      () => undefined,
    );
    try {
      await done;
      this.unsynced = false;
    } catch (err) {
      this.failure ??= err;
      throw err;
    } finally {
      this.syncing = undefined;
    }
  }

  /** Writes one batch at the end of the log (cutting a new segment first if needed), unsynced. */
  private writeBatch(hardState: HardState | undefined, entries: readonly Entry[]): void {
    let encoded = this.encodeBatch(hardState, entries);
    if (this.offset + encoded.bytes.length > this.segmentBytes && this.offset > 0) {
      this.cut();
      encoded = this.encodeBatch(hardState, entries);
    }
    this.file.write(encoded.bytes, this.offset);
    this.unsynced = true;
    this.offset += encoded.bytes.length;
    this.written += encoded.bytes.length;
    this.crc = encoded.crc;
    const last = entries[entries.length - 1];
    if (last !== undefined) this.lastIndex = last.index;
    if (hardState !== undefined) this.hardState = hardState;
  }

  private syncNow(): void {
    this.file.sync();
    this.unsynced = false;
  }

  /**
   * Records that a snapshot at `marker` exists, durably. Replay then starts after it. Write the
   * snapshot file first: the marker must never point at a snapshot that is not on disk.
   */
  saveSnapshotMarker(marker: SnapshotMarker): void {
    this.guard(() => {
      const payload = encodeSnapshot(marker);
      if (this.offset + frameBytes(payload.length) > this.segmentBytes) this.cut();
      const enc = new RecordEncoder(this.crc);
      enc.append(RecordType.Snapshot, payload, true);
      const crc = enc.rollingCrc;
      const bytes = enc.take();
      this.file.write(bytes, this.offset);
      this.syncNow();
      this.offset += bytes.length;
      this.written += bytes.length;
      this.crc = crc;
      this.snapshot = marker;
      this.lastIndex = Math.max(this.lastIndex, marker.index);
    });
  }

  /**
   * Deletes segments whose entries are all at or below `index` (covered by a snapshot at
   * `index` or later). The segment holding `index + 1` and everything after it are kept.
   */
  releaseTo(index: number): void {
    this.guard(() => {
      let drop = 0;
      while (drop < this.segments.length - 1) {
        const next = this.segments[drop + 1] as Segment;
        if (next.firstIndex > index + 1) break;
        drop++;
      }
      if (drop === 0) return;
      for (const seg of this.segments.slice(0, drop)) this.fs.unlink(path.join(this.dir, seg.name));
      this.fs.syncDir(this.dir);
      this.segments = this.segments.slice(drop);
    });
  }

  /** Names of the segment files, oldest first. */
  segmentNames(): string[] {
    return this.segments.map(s => s.name);
  }

  /** Closes the file; if a {@link saveAsync} fsync is in flight, once it settles. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const file = this.file;
    if (this.syncing === undefined) file.close();
    else
      void this.syncing.then(() => {
        file.close();
      });
  }

  private encodeBatch(
    hardState: HardState | undefined,
    entries: readonly Entry[],
  ): {bytes: Uint8Array; crc: number} {
    // A hard state encodes in at most 33 bytes (three varints), 48 framed.
    let expectedBytes = hardState === undefined ? 0 : frameBytes(33);
    for (const e of entries) expectedBytes += entryFrameBytes(e.data.length);
    const enc = new RecordEncoder(this.crc, expectedBytes);
    entries.forEach((e, i) => {
      const ends = hardState === undefined && i === entries.length - 1;
      enc.appendEntry(e, ends);
    });
    if (hardState !== undefined) {
      enc.append(RecordType.HardState, HardState.encode(hardState).finish(), true);
    }
    const crc = enc.rollingCrc;
    return {bytes: enc.take(), crc};
  }

  private cut(): void {
    // A commit-only batch may still sit unsynced at the end of this segment; the next segment's
    // chain CRC covers it, so it must be durable before that segment exists.
    if (this.unsynced) this.syncNow();
    const last = this.segments[this.segments.length - 1] as Segment;
    const seg: Segment = {
      seq: last.seq + 1,
      firstIndex: this.lastIndex + 1,
      name: segmentName(last.seq + 1, this.lastIndex + 1),
    };
    const {file, offset, crc} = writeSegmentHead(this.fs, this.dir, seg, this.segmentBytes, {
      chainCrc: this.crc,
      metadata: this.metadata,
      snapshot: this.snapshot,
      hardState: this.hardState,
    });
    this.file.close();
    this.file = file;
    this.offset = offset;
    this.written += offset;
    this.crc = crc;
    this.segments.push(seg);
  }

  private guard(action: () => void): void {
    if (this.closed) throw new Error('WAL is closed');
    if (this.syncing !== undefined) {
      throw new Error('WAL write started before the previous saveAsync settled; await it first');
    }
    if (this.failure !== undefined) {
      throw new Error(
        'WAL is unusable after an earlier write or fsync failure; restart the member',
        {
          cause: this.failure,
        },
      );
    }
    try {
      action();
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }
}

function writeSegmentHead(
  fs: FileSystem,
  dir: string,
  seg: Segment,
  segmentBytes: number,
  head: {
    chainCrc: number;
    metadata: Uint8Array;
    snapshot: SnapshotMarker;
    hardState: HardState | undefined;
  },
): {file: FileHandle; offset: number; crc: number} {
  const enc = new RecordEncoder(0);
  enc.appendCrc(head.chainCrc);
  enc.append(RecordType.Metadata, head.metadata);
  const hs = head.hardState;
  enc.append(RecordType.Snapshot, encodeSnapshot(head.snapshot), hs === undefined);
  if (hs !== undefined) enc.append(RecordType.HardState, HardState.encode(hs).finish(), true);
  const crc = enc.rollingCrc;
  const bytes = enc.take();
  const tmp = path.join(dir, `${seg.name}.tmp`);
  const file = fs.open(tmp, true);
  file.truncate(Math.max(segmentBytes, bytes.length));
  file.write(bytes, 0);
  file.sync();
  fs.rename(tmp, path.join(dir, seg.name));
  fs.syncDir(dir);
  return {file, offset: bytes.length, crc};
}

/**
 * Whether a damaged record at `offset` (frame ending at `frameEnd`) of the last segment is
 * the trace of a write cut short by a crash rather than corruption of synced data.
 */
function isTornTail(buf: Uint8Array, offset: number, frameEnd: number): boolean {
  if (frameEnd > buf.length) return true;
  if (isZero(buf, frameEnd, buf.length)) return true;
  const firstSector = Math.ceil(offset / SECTOR_BYTES) * SECTOR_BYTES;
  for (let s = firstSector; s + SECTOR_BYTES <= frameEnd; s += SECTOR_BYTES) {
    if (isZero(buf, s, s + SECTOR_BYTES)) return true;
  }
  return false;
}

/** Zeroes everything from `offset` to the last non-zero byte, durably. */
function repairTail(fs: FileSystem, file: string, buf: Uint8Array, offset: number): void {
  let end = buf.length;
  while (end > offset && buf[end - 1] === 0) end--;
  if (end <= offset) return;
  const fh = fs.open(file, false);
  try {
    fh.write(new Uint8Array(end - offset), offset);
    fh.sync();
  } finally {
    fh.close();
  }
}

function appendReplayed(entries: Entry[], e: Entry): Entry[] {
  const first = entries[0];
  if (first === undefined) return [e];
  const last = entries[entries.length - 1] as Entry;
  if (e.index === last.index + 1) {
    entries.push(e);
    return entries;
  }
  if (e.index <= first.index || e.index > last.index + 1) {
    // A rewrite from before everything held, or a jump past a released gap: start over.
    // Contiguity after the final snapshot marker is checked once replay ends.
    return [e];
  }
  entries.length = e.index - first.index;
  entries.push(e);
  return entries;
}

function encodeSnapshot(m: SnapshotMarker): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(m.index), true);
  v.setBigUint64(8, BigInt(m.term), true);
  return out;
}

function decodeSnapshot(p: Uint8Array): SnapshotMarker {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {index: Number(v.getBigUint64(0, true)), term: Number(v.getBigUint64(8, true))};
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
