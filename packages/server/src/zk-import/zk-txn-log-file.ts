import {ZkProtocol} from '@synod/proto';

import {adler32} from './adler32.js';
import {FileReader} from './zk-data-file-reader.js';
import {CONTAINER_OWNER, TXNLOG_MAGIC, ttlOwner} from './zk-data-files.js';
import type {TxnBody, TxnHeader, TxnRecord} from './zk-data-files.js';

/** The end-of-record byte after each log record. */
const END_OF_RECORD = 0x42; // 'B'

/**
 * Reads every record of a transaction log: checks the header, each record's length, end
 * byte and Adler-32, and that what follows the last record is the zero preallocation. A
 * record that is cut short, has no end byte or a wrong checksum is refused, as is anything
 * but zeros after the last record: ZooKeeper would stop there (a torn write) or refuse to
 * start (a wrong checksum), and an import must not guess which transactions were meant.
 */
export function readTxnLog(file: string, bytes: Buffer): {dbid: bigint; records: TxnRecord[]} {
  const f = new FileReader(file, bytes, 0);
  const dbid = f.header(TXNLOG_MAGIC, 'transaction log');
  const records: TxnRecord[] = [];
  let pos = f.offset;
  while (pos < bytes.length) {
    if (allZero(bytes, pos)) break;
    if (bytes.length - pos < 12) {
      f.fail('record header is cut short (the file ends inside a record)', pos);
    }
    const crc = bytes.readBigInt64BE(pos);
    const length = bytes.readInt32BE(pos + 8);
    if (length === 0) {
      f.fail('bytes other than the zero preallocation after the last record', pos);
    }
    if (length < 0) f.fail(`record length ${length} is negative`, pos);
    const start = pos + 12;
    if (start + length + 1 > bytes.length) {
      f.fail(`record of ${length} bytes is cut short: the file ends at ${bytes.length}`, pos);
    }
    const txn = bytes.subarray(start, start + length);
    if (bytes[start + length] !== END_OF_RECORD) {
      f.fail(
        `record has no end-of-record byte 'B' (found 0x${(bytes[start + length] ?? 0).toString(16)}): a partial or corrupt record`,
        start + length,
      );
    }
    const actual = BigInt(adler32(txn));
    if (crc !== actual) {
      f.fail(
        `record checksum mismatch: the file says 0x${BigInt.asUintN(64, crc).toString(16)}, its bytes give 0x${actual.toString(16)}`,
        pos,
      );
    }
    records.push(decodeTxn(file, txn, start));
    pos = start + length + 1;
  }
  return {dbid, records};
}

function allZero(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const op = ZkProtocol.op;

function decodeTxn(file: string, txn: Buffer, base: number): TxnRecord {
  const f = new FileReader(file, txn, base);
  const header: TxnHeader = {
    clientId: f.read('TxnHeader', r => r.long()),
    cxid: f.read('TxnHeader', r => r.int()),
    zxid: f.zxid('TxnHeader zxid'),
    timeMs: f.time('TxnHeader time'),
    type: f.read('TxnHeader', r => r.int()),
  };
  const body = decodeBody(f, header.type, false);
  // ZooKeeper 3.6+ appends the tree digest (int version, long digest); older logs have none.
  const left = f.jute.remaining;
  if (left !== 0 && left !== 12) {
    f.fail(`${left} unexpected bytes after the body of a type ${header.type} transaction`);
  }
  return {header, body, offset: base - 12};
}

function decodeBody(f: FileReader, type: number, inMulti: boolean): TxnBody {
  switch (type) {
    case op.create:
    case op.create2: {
      const path = f.path('CreateTxn path');
      const data = f.read('CreateTxn data', r => r.buffer());
      const acl = f.acl('CreateTxn ACL');
      const ephemeral = f.read('CreateTxn', r => r.bool());
      // The pre-3.3 CreateTxnV0 ends here; ZooKeeper then takes the parent's cversion + 1.
      const parentCVersion = f.jute.remaining >= 4 ? f.read('CreateTxn', r => r.int()) : -1;
      return {kind: 'create', path, data, acl, ephemeral, parentCVersion};
    }
    case op.createTTL: {
      const path = f.path('CreateTTLTxn path');
      const data = f.read('CreateTTLTxn data', r => r.buffer());
      const acl = f.acl('CreateTTLTxn ACL');
      const parentCVersion = f.read('CreateTTLTxn', r => r.int());
      const ttl = f.read('CreateTTLTxn', r => r.long());
      const ownerOverride = ttlOwner(ttl);
      return {kind: 'create', path, data, acl, ephemeral: false, parentCVersion, ownerOverride};
    }
    case op.createContainer: {
      const path = f.path('CreateContainerTxn path');
      const data = f.read('CreateContainerTxn data', r => r.buffer());
      const acl = f.acl('CreateContainerTxn ACL');
      const parentCVersion = f.read('CreateContainerTxn', r => r.int());
      return {
        kind: 'create',
        path,
        data,
        acl,
        ephemeral: false,
        parentCVersion,
        ownerOverride: CONTAINER_OWNER,
      };
    }
    case op.delete:
    case op.deleteContainer:
      return {kind: 'delete', path: f.path('DeleteTxn path')};
    case op.setData:
    case op.reconfig: {
      const path = f.path('SetDataTxn path');
      const data = f.read('SetDataTxn data', r => r.buffer());
      return {kind: 'setData', path, data, version: f.read('SetDataTxn', r => r.int())};
    }
    case op.setACL: {
      const path = f.path('SetACLTxn path');
      const acl = f.acl('SetACLTxn ACL');
      return {kind: 'setACL', path, acl, version: f.read('SetACLTxn', r => r.int())};
    }
    case op.error:
      return {kind: 'error', err: f.read('ErrorTxn', r => r.int())};
    case op.check:
      if (!inMulti) break;
      f.path('CheckVersionTxn path');
      f.read('CheckVersionTxn', r => r.int());
      return {kind: 'check'};
    case op.createSession:
      if (inMulti) break;
      return {kind: 'createSession', timeoutMs: f.read('CreateSessionTxn', r => r.int())};
    case op.closeSession: {
      if (inMulti) break;
      // CloseSessionTxn (3.6+) lists the ephemerals to delete; older logs have no body.
      if (f.jute.remaining === 0) return {kind: 'closeSession', paths: null};
      const n = f.read('CloseSessionTxn', r => r.count(4));
      const paths: string[] = [];
      for (let i = 0; i < n; i++) paths.push(f.path('CloseSessionTxn path'));
      return {kind: 'closeSession', paths};
    }
    case op.multi: {
      if (inMulti) break;
      const n = f.read('MultiTxn', r => r.count(8));
      const ops: {type: number; body: TxnBody}[] = [];
      for (let i = 0; i < n; i++) {
        const subType = f.read('MultiTxn op', r => r.int());
        const at = f.offset;
        const data = f.read('MultiTxn op', r => r.buffer()) ?? Buffer.alloc(0);
        const sub = new FileReader(f.file, data, at + 4);
        ops.push({type: subType, body: decodeBody(sub, subType, true)});
      }
      return {kind: 'multi', ops};
    }
    default:
      break;
  }
  return f.fail(
    inMulti
      ? `operation type ${type} cannot be part of a multi transaction`
      : `unsupported transaction type ${type}`,
  );
}
