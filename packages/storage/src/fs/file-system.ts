/**
 * The durable-I/O seam of the storage engine. Everything the WAL and the snapshotter write
 * goes through this interface, so that tests can swap in {@link CrashFileSystem}, which
 * forgets unsynced writes on a simulated power cut.
 *
 * All calls are synchronous except {@link FileHandle.syncAsync}, which lets the WAL wait for
 * an fdatasync without stopping the event loop (see `Wal.saveAsync`). Errors are thrown (or
 * rejected) as they come from the OS.
 *
 * Durability contract (the one real disks give):
 * - bytes written through {@link FileHandle.write} survive a crash only after
 *   {@link FileHandle.sync} on that file returned;
 * - a create, rename or unlink survives a crash only after {@link FileSystem.syncDir} on the
 *   parent directory returned.
 */
export interface FileSystem {
  /** Creates `dir` and missing parents; no-op if it exists. */
  mkdirp(dir: string): void;
  /** Names (not paths) of the entries of `dir`, sorted. */
  list(dir: string): string[];
  exists(path: string): boolean;
  /** Opens an existing file for reading and writing, or creates it when `create` is set. */
  open(path: string, create: boolean): FileHandle;
  /** Whole content of a file. */
  readFile(path: string): Uint8Array;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** Removes a directory and everything below it. */
  removeTree(path: string): void;
  /** Makes creates, renames and unlinks inside `dir` durable. */
  syncDir(dir: string): void;
}

/** An open file. Positions are absolute byte offsets. */
export interface FileHandle {
  readonly path: string;
  /** Writes all of `data` at `position` (extending the file if needed). */
  write(data: Uint8Array, position: number): void;
  /** Reads up to `length` bytes at `position`; shorter at end of file. */
  read(position: number, length: number): Uint8Array;
  size(): number;
  /** Sets the file length, zero-filling when it grows. */
  truncate(length: number): void;
  /** fdatasync: makes the file's data (and its length) durable. */
  sync(): void;
  /**
   * fdatasync off the event loop: resolves once every write made before the call is durable
   * (writes made while it runs may or may not be). The handle must stay open until it settles.
   */
  syncAsync(): Promise<void>;
  close(): void;
}
