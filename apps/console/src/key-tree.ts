import {base64FromBytes, displayText} from './bytes.js';

/** One node of the keyspace seen as a tree: a path segment between `/` separators. */
export interface KeyTreeNode {
  /** The segment as shown (invalid UTF-8 as U+FFFD). */
  readonly label: string;
  /** The whole key up to and including this segment, as base64 of its bytes. */
  readonly path64: string;
  /** Set when a key ends exactly here. */
  key64: string | undefined;
  readonly children: Map<string, KeyTreeNode>;
  /** Keys at or below this node. */
  count: number;
}

const slash = 0x2f;

/**
 * The keys as a tree split on `/` (byte 0x2f, so keys that are not UTF-8 split too). A
 * leading `/` gives a first segment that is empty, shown as `/`; `a//b` keeps its empty
 * segment. Children are sorted by their bytes, which is etcd's key order.
 */
export function buildKeyTree(keys: readonly Uint8Array[]): KeyTreeNode {
  const root: KeyTreeNode = {
    label: '',
    path64: '',
    key64: undefined,
    children: new Map(),
    count: 0,
  };
  for (const key of keys) {
    root.count++;
    let node = root;
    let start = 0;
    for (;;) {
      const cut = key.indexOf(slash, start);
      const end = cut === -1 ? key.length : cut + 1;
      const segment = key.subarray(start, end);
      const id = base64FromBytes(segment);
      let child = node.children.get(id);
      if (child === undefined) {
        child = {
          label: displayText(segment),
          path64: base64FromBytes(key.subarray(0, end)),
          key64: undefined,
          children: new Map(),
          count: 0,
        };
        node.children.set(id, child);
      }
      child.count++;
      node = child;
      if (end === key.length) {
        node.key64 = base64FromBytes(key);
        break;
      }
      start = end;
    }
  }
  return root;
}
