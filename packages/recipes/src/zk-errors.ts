/** Base class of the ZooKeeper-style tree's errors; `code` is ZooKeeper's error code. */
export class ZkError extends Error {
  constructor(
    /** ZooKeeper's numeric code (`NONODE` is -101, and so on). */
    readonly code: number,
    /** The node the operation was about. */
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The node (or, on create, its parent) does not exist. */
export class NoNodeError extends ZkError {
  constructor(path: string) {
    super(-101, path, `no node ${path}: create it (and its parents) first`);
  }
}

/** A node already exists at the path. */
export class NodeExistsError extends ZkError {
  constructor(path: string) {
    super(-110, path, `node ${path} already exists`);
  }
}

/** The node's version is not the one the caller expected. */
export class BadVersionError extends ZkError {
  constructor(
    path: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      -103,
      path,
      `node ${path} is at version ${actual}, not ${expected}: re-read it and retry, or pass -1`,
    );
  }
}

/** The node has children, so it cannot be deleted. */
export class NotEmptyError extends ZkError {
  constructor(path: string) {
    super(-111, path, `node ${path} has children: delete them first`);
  }
}

/** Ephemeral nodes cannot have children. */
export class NoChildrenForEphemeralsError extends ZkError {
  constructor(path: string) {
    super(-108, path, `cannot create ${path}: its parent is ephemeral and cannot have children`);
  }
}
