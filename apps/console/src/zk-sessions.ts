import {displayText} from './bytes.js';

/**
 * Where a member keeps ZooKeeper's sessions and znodes in the etcd keyspace, which any etcd
 * client may read: `__synod/zk/s/<session id, 16 hex digits>` on the session's lease (value:
 * the negotiated timeout in ms, a big-endian int32), and `__synod/zk/n/<depth><path>` per
 * znode, an ephemeral's on its session's lease.
 */
export const zkSessionPrefix = '__synod/zk/s/';
const zkNodePrefix = '__synod/zk/n/';

/** A ZooKeeper session as its record in the keyspace gives it. */
export interface ZkSessionRecord {
  /** The session id in hex, as ZooKeeper's `cons` and clients print it. */
  readonly idHex: string;
  /** The session's lease id, in decimal as the gateway takes it. */
  readonly lease: string;
  readonly timeoutMs: number;
}

/** The session a `__synod/zk/s/` key records, or undefined for any other key. */
export function zkSessionOf(key: Uint8Array, value: Uint8Array): ZkSessionRecord | undefined {
  const text = displayText(key);
  if (!text.startsWith(zkSessionPrefix)) return undefined;
  const idHex = text.slice(zkSessionPrefix.length);
  if (!/^[0-9a-f]{16}$/.test(idHex) || value.length < 4) return undefined;
  const timeoutMs = new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(0);
  return {idHex: idHex.replace(/^0+(?=.)/, ''), lease: BigInt(`0x${idHex}`).toString(), timeoutMs};
}

/** The znode path a `__synod/zk/n/` key stands for, or undefined for any other key. */
export function znodePathOf(key: Uint8Array): string | undefined {
  const text = displayText(key);
  if (!text.startsWith(zkNodePrefix)) return undefined;
  const slash = text.indexOf('/', zkNodePrefix.length);
  return slash < 0 ? undefined : text.slice(slash);
}
