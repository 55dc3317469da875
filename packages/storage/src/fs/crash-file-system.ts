import * as path from 'node:path';
import type {FileHandle, FileSystem} from './file-system.js';

/** Size of the unit a disk writes atomically; tears happen on these boundaries. */
export const SECTOR_BYTES = 512;

/** How {@link CrashFileSystem.crash} damages the unsynced writes it keeps. */
export interface CrashOptions {
  /** Uniform random number in [0, 1); injected so every crash replays from a seed. */
  readonly random: () => number;
  /**
   * `'none'` keeps a prefix of whole pending writes; `'sector'` may also keep the first
   * sectors of the next write; `'byte'` may cut the next write at any byte.
   */
  readonly tear: 'none' | 'sector' | 'byte';
}

type PendingOp =
  | {readonly kind: 'write'; readonly position: number; readonly data: Uint8Array}
  | {readonly kind: 'truncate'; readonly length: number};

class Inode {
  durable: Uint8Array = new Uint8Array(0);
  content: Uint8Array = new Uint8Array(0);
  length = 0;
  pending: PendingOp[] = [];

  ensure(length: number): void {
    if (length <= this.content.length) return;
    const grown = new Uint8Array(Math.max(length, this.content.length * 2));
    grown.set(this.content.subarray(0, this.length));
    this.content = grown;
  }

  apply(op: PendingOp): void {
    if (op.kind === 'write') {
      const end = op.position + op.data.length;
      this.ensure(end);
      this.content.set(op.data, op.position);
      this.length = Math.max(this.length, end);
    } else {
      this.ensure(op.length);
      if (op.length > this.length) this.content.fill(0, this.length, op.length);
      this.length = op.length;
    }
  }

  bytes(): Uint8Array {
    return this.content.slice(0, this.length);
  }

  resetTo(data: Uint8Array): void {
    this.content = data.slice();
    this.length = data.length;
    this.durable = data.slice();
    this.pending = [];
  }
}

/**
 * An in-memory {@link FileSystem} that remembers what is durable. Each file keeps its last
 * synced image and the writes since; each directory keeps its last synced listing. `crash()`
 * models a power cut: directories fall back to their synced listings (undoing unsynced
 * creates, renames and unlinks), files to their synced image plus a random prefix of the
 * later writes, the last of which may be torn. Directories made with `mkdirp` are durable at
 * once (the storage engine only creates them before it writes anything that matters).
 */
export class CrashFileSystem implements FileSystem {
  private readonly dirs = new Map<
    string,
    {current: Map<string, Inode>; durable: Map<string, Inode>}
  >();
  private epoch = 0;
  /** Number of further successful syncs before every sync fails (EIO); undefined = never. */
  syncsUntilFailure: number | undefined;
  /** Count of file syncs performed, for tests that check the number of fdatasyncs. */
  fileSyncs = 0;

  mkdirp(dir: string): void {
    const norm = path.resolve(dir);
    if (this.dirs.has(norm)) return;
    const parent = path.dirname(norm);
    if (parent !== norm) this.mkdirp(parent);
    this.dirs.set(norm, {current: new Map(), durable: new Map()});
  }

  list(dir: string): string[] {
    return [...this.dirOf(dir).current.keys()].sort();
  }

  exists(p: string): boolean {
    const norm = path.resolve(p);
    if (this.dirs.has(norm)) return true;
    return this.dirs.get(path.dirname(norm))?.current.has(path.basename(norm)) ?? false;
  }

  open(p: string, create: boolean): FileHandle {
    const norm = path.resolve(p);
    const dir = this.dirOf(path.dirname(norm));
    const name = path.basename(norm);
    let inode = dir.current.get(name);
    if (inode === undefined) {
      if (!create) throw fsError('ENOENT', `no such file: ${p}`);
      inode = new Inode();
      dir.current.set(name, inode);
    } else if (create) {
      inode.pending.push({kind: 'truncate', length: 0});
      inode.apply({kind: 'truncate', length: 0});
    }
    return new CrashFileHandle(this, norm, inode, this.epoch);
  }

  readFile(p: string): Uint8Array {
    const norm = path.resolve(p);
    const inode = this.dirOf(path.dirname(norm)).current.get(path.basename(norm));
    if (inode === undefined) throw fsError('ENOENT', `no such file: ${p}`);
    // A Buffer, like node:fs, so decoded byte fields have the same type on both file systems.
    return Buffer.from(inode.bytes());
  }

  rename(from: string, to: string): void {
    const src = path.resolve(from);
    const dst = path.resolve(to);
    const srcDir = this.dirOf(path.dirname(src));
    const inode = srcDir.current.get(path.basename(src));
    if (inode === undefined) throw fsError('ENOENT', `no such file: ${from}`);
    srcDir.current.delete(path.basename(src));
    this.dirOf(path.dirname(dst)).current.set(path.basename(dst), inode);
  }

  unlink(p: string): void {
    const norm = path.resolve(p);
    const dir = this.dirOf(path.dirname(norm));
    if (!dir.current.delete(path.basename(norm))) throw fsError('ENOENT', `no such file: ${p}`);
  }

  removeTree(p: string): void {
    const norm = path.resolve(p);
    for (const key of [...this.dirs.keys()]) {
      if (key === norm || key.startsWith(norm + path.sep)) this.dirs.delete(key);
    }
  }

  syncDir(dir: string): void {
    this.checkSyncFault();
    const d = this.dirOf(dir);
    d.durable = new Map(d.current);
  }

  /** @internal called by handles before they make their file durable. */
  beforeFileSync(epoch: number): void {
    this.checkEpoch(epoch);
    this.checkSyncFault();
    this.fileSyncs++;
  }

  /** @internal */
  checkEpoch(epoch: number): void {
    if (epoch !== this.epoch) throw fsError('EBADF', 'file handle from before a crash');
  }

  /**
   * Simulates a power cut. Every handle opened before becomes unusable. Returns a short
   * description of what was kept, for failure messages.
   */
  crash(options: CrashOptions): string {
    this.epoch++;
    const notes: string[] = [];
    const seen = new Set<Inode>();
    for (const [dirPath, dir] of this.dirs) {
      dir.current = new Map(dir.durable);
      for (const [name, inode] of dir.current) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        const kept = crashInode(inode, options);
        if (kept !== '') notes.push(`${path.join(dirPath, name)}: ${kept}`);
      }
    }
    return notes.join('; ');
  }

  private checkSyncFault(): void {
    if (this.syncsUntilFailure === undefined) return;
    if (this.syncsUntilFailure <= 0) throw fsError('EIO', 'injected fsync failure');
    this.syncsUntilFailure--;
  }

  private dirOf(dir: string): {current: Map<string, Inode>; durable: Map<string, Inode>} {
    const d = this.dirs.get(path.resolve(dir));
    if (d === undefined) throw fsError('ENOENT', `no such directory: ${dir}`);
    return d;
  }
}

function crashInode(inode: Inode, {random, tear}: CrashOptions): string {
  const pending = inode.pending;
  const image = new Inode();
  image.resetTo(inode.durable);
  if (pending.length === 0) {
    inode.resetTo(image.bytes());
    return '';
  }
  const keep = Math.floor(random() * (pending.length + 1));
  for (const op of pending.slice(0, keep)) image.apply(op);
  let note = `kept ${keep}/${pending.length} writes`;
  const next = pending[keep];
  if (tear !== 'none' && next?.kind === 'write' && next.data.length > 1) {
    let cut: number;
    if (tear === 'sector') {
      const start = next.position;
      const end = start + next.data.length;
      const boundaries: number[] = [];
      for (let b = Math.ceil(start / SECTOR_BYTES) * SECTOR_BYTES; b < end; b += SECTOR_BYTES) {
        if (b > start) boundaries.push(b - start);
      }
      cut = boundaries[Math.floor(random() * boundaries.length)] ?? 0;
    } else {
      cut = Math.floor(random() * next.data.length);
    }
    if (cut > 0) {
      image.apply({kind: 'write', position: next.position, data: next.data.subarray(0, cut)});
      note += `, tore write ${keep} at +${cut}`;
    }
  }
  inode.resetTo(image.bytes());
  return note;
}

class CrashFileHandle implements FileHandle {
  private closed = false;

  constructor(
    private readonly fs: CrashFileSystem,
    readonly path: string,
    private readonly inode: Inode,
    private readonly epoch: number,
  ) {}

  write(data: Uint8Array, position: number): void {
    this.check();
    const op = {kind: 'write', position, data: data.slice()} as const;
    this.inode.pending.push(op);
    this.inode.apply(op);
  }

  read(position: number, length: number): Uint8Array {
    this.check();
    const end = Math.min(this.inode.length, position + length);
    return this.inode.content.slice(Math.min(position, end), end);
  }

  size(): number {
    this.check();
    return this.inode.length;
  }

  truncate(length: number): void {
    this.check();
    const op = {kind: 'truncate', length} as const;
    this.inode.pending.push(op);
    this.inode.apply(op);
  }

  sync(): void {
    this.check();
    this.fs.beforeFileSync(this.epoch);
    this.inode.durable = this.inode.bytes();
    this.inode.pending = [];
  }

  /**
   * Makes the writes made before the call durable one macrotask later, unless a crash came
   * first: then it rejects and nothing it covered was made durable by it.
   */
  async syncAsync(): Promise<void> {
    this.check();
    this.fs.beforeFileSync(this.epoch);
    const image = this.inode.bytes();
    const lastCovered = this.inode.pending[this.inode.pending.length - 1];
    await new Promise(resolve => setImmediate(resolve));
    this.fs.checkEpoch(this.epoch);
    // Gone from the pending list: a later sync already made it (and all before it) durable.
    const at = lastCovered === undefined ? -1 : this.inode.pending.indexOf(lastCovered);
    if (at < 0) return;
    this.inode.durable = image;
    this.inode.pending = this.inode.pending.slice(at + 1);
  }

  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw fsError('EBADF', `file closed: ${this.path}`);
    this.fs.checkEpoch(this.epoch);
  }
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), {code});
}
