import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

import {ZkProtocol} from '@synod/proto';

import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import type {StatPersisted, TxnBody, TxnHeader} from './zk-data-files.js';
import type {NodeToWrite} from './zk-data-writer.js';
import {writeZkSnapshot, writeZkTxnLog} from './zk-data-writer.js';

/** @internal What {@link generateZkDataDir} makes. */
export interface ZkDataDirSpec {
  /** Znodes under `/bench` in the snapshot, `/bench` included. */
  readonly znodes: number;
  /** Children per `/bench/gNNNN` group (1000 by default). */
  readonly fanout?: number;
  /** Bytes of data per leaf (16 by default). */
  readonly dataBytes?: number;
  /** Transactions logged after the snapshot: creates, setData, deletes, multis. */
  readonly logTxns?: number;
  /** Ephemerals of one live session, children of `/bench`. */
  readonly ephemerals?: number;
}

/** zxids of epoch 1, as a ZooKeeper that was started once numbers them. */
const EPOCH = 2 ** 32;
const BASE_TIME_MS = 1_700_000_000_000;
const SESSION = 0x1000000000001n;
const ACLS = new Map<bigint, readonly ZkAclEntry[]>([
  [1n, [{perms: 31, scheme: 'digest', id: 'alice:V55/p2T0OpjQ+low3NVAH4aLvm0='}]],
  [2n, [{perms: 1, scheme: 'world', id: 'anyone'}]],
]);

function stat(zxid: number, over: Partial<StatPersisted> = {}): StatPersisted {
  const time = zxid === 0 ? 0 : BASE_TIME_MS + (zxid - EPOCH);
  return {
    czxid: zxid,
    mzxid: zxid,
    ctime: time,
    mtime: time,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    pzxid: zxid,
    ...over,
  };
}

/**
 * @internal Writes a ZooKeeper 3.8 data dir (`<dir>/version-2/snapshot.*` and `log.*`) as a
 * server that had made it would have left it: `/bench` with groups `/bench/g0000`, ... of
 * `fanout` leaves each (`/bench/g0000/n000000`, ...; every 10th leaf with a digest ACL, every
 * 7th read-only, every 5th at version 1), optionally some ephemerals of a session still open,
 * then a log of `logTxns` transactions past the snapshot. Returns the snapshot's zxid.
 */
export function generateZkDataDir(dir: string, spec: ZkDataDirSpec): number {
  const fanout = spec.fanout ?? 1000;
  const data = Buffer.alloc(spec.dataBytes ?? 16, 'v');
  const versionDir = join(dir, 'version-2');
  mkdirSync(versionDir, {recursive: true});
  let zxid = EPOCH;
  const bench = stat(++zxid);
  // Group sizes first: the parents' counters are written before their children.
  const groups: number[] = [];
  for (let left = spec.znodes - 1; left > 0; ) {
    const children = Math.min(fanout, left - 1);
    groups.push(children);
    left -= children + 1;
  }
  const ephemerals = spec.ephemerals ?? 0;
  const groupZxids: number[] = [];
  for (const children of groups) {
    groupZxids.push(zxid + 1);
    zxid += 1 + children;
  }
  const ephemeralZxid = zxid + 1;
  zxid += ephemerals;
  const snapshotZxid = zxid;
  bench.cversion = groups.length + ephemerals;
  bench.pzxid = snapshotZxid;

  function* nodes(): Generator<NodeToWrite> {
    yield {path: '', data: null, aclRef: -1n, stat: stat(0, {cversion: 1, pzxid: bench.czxid})};
    yield {path: '/zookeeper', data: Buffer.alloc(0), aclRef: -1n, stat: stat(0)};
    yield {path: '/zookeeper/quota', data: Buffer.alloc(0), aclRef: -1n, stat: stat(0)};
    yield {
      path: '/zookeeper/config',
      data: Buffer.alloc(0),
      aclRef: 2n,
      stat: stat(0, {aversion: -1}),
    };
    yield {path: '/bench', data: Buffer.from('bench'), aclRef: -1n, stat: bench};
    for (const [g, children] of groups.entries()) {
      const gz = groupZxids[g] ?? 0;
      const group = `/bench/g${String(g).padStart(4, '0')}`;
      const last = gz + children;
      yield {
        path: group,
        data: Buffer.from(group),
        aclRef: -1n,
        stat: stat(gz, {cversion: children, pzxid: children > 0 ? last : gz}),
      };
      for (let i = 0; i < children; i++) {
        const z = gz + 1 + i;
        yield {
          path: `${group}/n${String(i).padStart(6, '0')}`,
          data,
          aclRef: i % 10 === 0 ? 1n : i % 7 === 0 ? 2n : -1n,
          stat: stat(z, i % 5 === 0 ? {version: 1} : {}),
        };
      }
    }
    for (let e = 0; e < ephemerals; e++) {
      yield {
        path: `/bench/e${e}`,
        data: Buffer.from('ephemeral'),
        aclRef: -1n,
        stat: stat(ephemeralZxid + e, {ephemeralOwner: SESSION}),
      };
    }
  }
  const hex = (z: number): string => z.toString(16);
  writeZkSnapshot(join(versionDir, `snapshot.${hex(snapshotZxid)}`), {
    sessions: ephemerals > 0 ? new Map([[SESSION, 4000]]) : new Map(),
    acls: ACLS,
    nodes: nodes(),
  });

  const txns = spec.logTxns ?? 0;
  if (txns > 0) {
    const op = ZkProtocol.op;
    const records: {header: TxnHeader; body: TxnBody}[] = [];
    let benchCversion = bench.cversion;
    let setVersion = 1;
    const add = (type: number, body: TxnBody): void => {
      const z = ++zxid;
      const header: TxnHeader = {
        clientId: SESSION,
        cxid: records.length + 1,
        zxid: z,
        timeMs: BASE_TIME_MS + (z - EPOCH),
        type,
      };
      records.push({header, body});
    };
    const open = [{perms: 31, scheme: 'world', id: 'anyone'}];
    for (let i = 0; records.length < txns; i++) {
      const path = `/bench/new${i}`;
      add(op.create, {
        kind: 'create',
        path,
        data: Buffer.from(`new-${i}`),
        acl: open,
        ephemeral: false,
        parentCVersion: ++benchCversion,
      });
      if (records.length >= txns) break;
      add(op.setData, {
        kind: 'setData',
        path: '/bench/g0000/n000001',
        data: Buffer.from(`set-${i}`),
        version: setVersion++,
      });
      if (records.length >= txns) break;
      if (i % 2 === 1) {
        const gone = `/bench/new${i - 1}`;
        add(op.multi, {
          kind: 'multi',
          ops: [
            {type: op.delete, body: {kind: 'delete', path: `${gone}/m`}},
            {type: op.delete, body: {kind: 'delete', path: gone}},
          ],
        });
      } else {
        const sub = `/bench/new${i}/m`;
        add(op.multi, {
          kind: 'multi',
          ops: [
            {
              type: op.create,
              body: {
                kind: 'create',
                path: sub,
                data: Buffer.from('m'),
                acl: open,
                ephemeral: false,
                parentCVersion: 1,
              },
            },
            {
              type: op.setData,
              body: {kind: 'setData', path: sub, data: Buffer.from('mm'), version: 1},
            },
          ],
        });
      }
    }
    const first = records[0]?.header.zxid ?? snapshotZxid + 1;
    writeZkTxnLog(join(versionDir, `log.${hex(first)}`), records);
  }
  return snapshotZxid;
}
