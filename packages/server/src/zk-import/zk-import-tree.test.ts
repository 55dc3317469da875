import {ZkProtocol} from '@synod/proto';
import {describe, expect, it} from 'vitest';

import type {StatPersisted, TxnBody} from './zk-data-files.js';
import {CONTAINER_OWNER} from './zk-data-files.js';
import {ZkImportTree, shownCversion} from './zk-import-tree.js';

const op = ZkProtocol.op;
const open = [{perms: 31, scheme: 'world', id: 'anyone'}];
const SESSION = 0x51n;

function stat(zxid: number, over: Partial<StatPersisted> = {}): StatPersisted {
  return {
    czxid: zxid,
    mzxid: zxid,
    ctime: zxid,
    mtime: zxid,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    pzxid: zxid,
    ...over,
  };
}

/** A tree loaded from a snapshot of `/`, `/a` (cversion 3, one child `/a/x`). */
function loaded(): ZkImportTree {
  const tree = new ZkImportTree();
  const nodes: [string, StatPersisted][] = [
    ['', stat(0, {cversion: 1, pzxid: 1})],
    ['/a', stat(1, {cversion: 3, pzxid: 4})],
    ['/a/x', stat(4)],
  ];
  for (const [path, s] of nodes) {
    tree.loadSnapshotNode('snap', {path, data: null, acl: open, stat: s}, 0);
  }
  return tree;
}

function apply(tree: ZkImportTree, zxid: number, type: number, body: TxnBody): void {
  tree.apply({clientId: SESSION, cxid: 1, zxid, timeMs: 1000 + zxid, type}, body);
}

const create = (
  path: string,
  parentCVersion: number,
  ephemeral = false,
): Extract<TxnBody, {kind: 'create'}> => ({
  kind: 'create',
  path,
  data: Buffer.from('d'),
  acl: open,
  ephemeral,
  parentCVersion,
});

describe('ZkImportTree replays logged transactions as ZooKeeper restores them', () => {
  it('a create and a delete: the stored cversion counts creates, the shown one changes too', () => {
    const tree = loaded();
    apply(tree, 5, op.create, create('/a/y', 4));
    apply(tree, 6, op.delete, {kind: 'delete', path: '/a/x'});
    const a = tree.nodes.get('/a');
    expect(a?.stat).toMatchObject({cversion: 4, pzxid: 6});
    expect(a?.numChildren).toBe(1);
    expect(a && shownCversion(a)).toBe(7);
  });

  it('a create the fuzzy snapshot already holds only raises the parent cversion and pzxid', () => {
    const tree = loaded();
    apply(tree, 4, op.create, create('/a/x', 3));
    expect(tree.nodes.get('/a')?.stat).toMatchObject({cversion: 3, pzxid: 4});
    apply(tree, 7, op.create, create('/a/x', 5));
    expect(tree.nodes.get('/a')?.stat).toMatchObject({cversion: 5, pzxid: 7});
    expect(tree.nodes.get('/a/x')?.stat.czxid).toBe(4);
  });

  it('a delete of a node already gone still moves the parent pzxid', () => {
    const tree = loaded();
    apply(tree, 9, op.delete, {kind: 'delete', path: '/a/gone'});
    expect(tree.nodes.get('/a')?.stat).toMatchObject({cversion: 3, pzxid: 9});
    expect(tree.nodes.get('/a')?.numChildren).toBe(1);
  });

  it('setData and setACL take the version the transaction carries', () => {
    const tree = loaded();
    apply(tree, 5, op.setData, {kind: 'setData', path: '/a/x', data: null, version: 3});
    apply(tree, 6, op.setACL, {kind: 'setACL', path: '/a/x', acl: [], version: 2});
    expect(tree.nodes.get('/a/x')?.stat).toMatchObject({
      version: 3,
      mzxid: 5,
      mtime: 1005,
      aversion: 2,
    });
    expect(tree.nodes.get('/a/x')?.data).toBeNull();
  });

  it('a multi with an error changes nothing; one without applies every op at its zxid', () => {
    const tree = loaded();
    apply(tree, 5, op.multi, {
      kind: 'multi',
      ops: [
        {type: op.create, body: create('/a/m', 4)},
        {type: op.error, body: {kind: 'error', err: -101}},
      ],
    });
    expect(tree.nodes.has('/a/m')).toBe(false);
    apply(tree, 6, op.multi, {
      kind: 'multi',
      ops: [
        {type: op.create, body: create('/a/m', 4)},
        {type: op.setData, body: {kind: 'setData', path: '/a/m', data: null, version: 1}},
      ],
    });
    expect(tree.nodes.get('/a/m')?.stat).toMatchObject({czxid: 6, mzxid: 6, version: 1});
  });

  it('closeSession deletes its ephemerals; endSessions ends the rest, then empty containers', () => {
    const tree = loaded();
    apply(tree, 5, op.createSession, {kind: 'createSession', timeoutMs: 4000});
    apply(tree, 6, op.createContainer, {...create('/box', 2), ownerOverride: CONTAINER_OWNER});
    apply(tree, 7, op.create, create('/box/e', 1, true));
    apply(tree, 8, op.create, create('/a/e', 4, true));
    const other = {clientId: 0x52n, cxid: 1, zxid: 9, timeMs: 9, type: op.create};
    tree.apply(other, create('/a/f', 5, true));
    tree.apply({...other, zxid: 10, type: op.closeSession}, {kind: 'closeSession', paths: null});
    expect(tree.nodes.has('/a/f')).toBe(false);
    expect(tree.nodes.get('/a')?.stat.pzxid).toBe(10);
    expect(tree.endSessions()).toEqual({ephemerals: 2, containers: 1, sessions: 1});
    expect(tree.nodes.has('/a/e')).toBe(false);
    expect(tree.nodes.has('/box')).toBe(false);
    // The session's end at zxid 11, the container's removal at 12.
    expect(tree.nodes.get('/a')?.stat.pzxid).toBe(11);
    expect(tree.nodes.get('/')?.stat.pzxid).toBe(12);
  });
});
