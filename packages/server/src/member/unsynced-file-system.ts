import type {FileHandle, FileSystem} from '@synod/storage';

/**
 * `fs` with every fsync left out: writes, creates, renames and unlinks happen, but none is
 * made durable. Only the injected bug 'snapshot-before-fsync' uses it, for the snapshot files.
 */
export function unsyncedFileSystem(fs: FileSystem): FileSystem {
  const handle = (h: FileHandle): FileHandle => ({
    path: h.path,
    write: (data, position) => {
      h.write(data, position);
    },
    read: (position, length) => h.read(position, length),
    size: () => h.size(),
    truncate: length => {
      h.truncate(length);
    },
    sync: () => undefined,
    syncAsync: () => Promise.resolve(),
    close: () => {
      h.close();
    },
  });
  return {
    mkdirp: dir => {
      fs.mkdirp(dir);
    },
    list: dir => fs.list(dir),
    exists: path => fs.exists(path),
    open: (path, create) => handle(fs.open(path, create)),
    readFile: path => fs.readFile(path),
    rename: (from, to) => {
      fs.rename(from, to);
    },
    unlink: path => {
      fs.unlink(path);
    },
    removeTree: path => {
      fs.removeTree(path);
    },
    syncDir: () => undefined,
  };
}
