import * as fs from 'node:fs';
import * as path from 'node:path';
import type {FileHandle, FileSystem} from './file-system.js';

/** {@link FileSystem} on `node:fs`, synchronous calls. */
export class NodeFileSystem implements FileSystem {
  mkdirp(dir: string): void {
    fs.mkdirSync(dir, {recursive: true, mode: 0o700});
    // Data directories are private even if they existed before (etcd CVE-2020-15113).
    fs.chmodSync(dir, 0o700);
  }

  list(dir: string): string[] {
    return fs.readdirSync(dir).sort();
  }

  exists(p: string): boolean {
    return fs.existsSync(p);
  }

  open(p: string, create: boolean): FileHandle {
    const fd = fs.openSync(p, create ? 'w+' : 'r+', 0o600);
    return new NodeFileHandle(p, fd);
  }

  readFile(p: string): Uint8Array {
    return fs.readFileSync(p);
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  unlink(p: string): void {
    fs.unlinkSync(p);
  }

  removeTree(p: string): void {
    fs.rmSync(p, {recursive: true, force: true});
  }

  syncDir(dir: string): void {
    // A directory is fsynced through a read-only descriptor on it.
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

class NodeFileHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) {
      done += fs.writeSync(this.fd, data, done, data.length - done, position + done);
    }
  }

  read(position: number, length: number): Uint8Array {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  sync(): void {
    fs.fdatasyncSync(this.fd);
  }

  syncAsync(): Promise<void> {
    // Runs on the libuv threadpool; the event loop keeps serving while the disk works.
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, err => {
        if (err === null) resolve();
        else reject(err);
      });
    });
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Parent directory of `p` (re-exported for callers that build paths). */
export const parentDir = (p: string): string => path.dirname(p);
