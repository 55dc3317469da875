import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {EtcdErrors} from '@synod/proto';
import {ConfChangeType} from '@synod/proto/raftpb';
import {Backend} from '@synod/storage';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {refusalOfConfChange} from './conf-change-refusal.js';
import {Membership} from './membership.js';

describe('conf changes refused when applied', () => {
  let dir: string;
  let backend: Backend;
  let membership: Membership;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'synod-membership-'));
    backend = Backend.open(dir);
    membership = new Membership(backend);
    membership.set({id: 1, name: 'a', peerUrls: ['http://a:1'], clientUrls: [], isLearner: false});
    membership.set({id: 2, name: 'l', peerUrls: ['http://l:1'], clientUrls: [], isLearner: true});
  });

  afterEach(async () => {
    await backend.close();
    rmSync(dir, {recursive: true, force: true});
  });

  const ctx = (id: number, url: string) => ({
    member: {
      id: BigInt(id),
      name: '',
      peerUrls: [url],
      clientUrls: [],
      isLearner: false,
      zkClientAddress: '',
      zkSecureClientAddress: '',
    },
    promote: false,
    requestId: 1n,
  });
  const change = (type: ConfChangeType, nodeId: number) => ({
    type,
    nodeId,
    id: 0,
    context: new Uint8Array(),
  });

  it.each([
    [
      'a voter already there',
      ConfChangeType.ConfChangeAddNode,
      1,
      'http://x:1',
      EtcdErrors.memberExists,
    ],
    [
      'a learner as voter (promotion)',
      ConfChangeType.ConfChangeAddNode,
      2,
      'http://l:1',
      undefined,
    ],
    [
      'a new voter on a taken URL',
      ConfChangeType.ConfChangeAddNode,
      3,
      'http://a:1',
      EtcdErrors.peerURLExists,
    ],
    ['a new voter', ConfChangeType.ConfChangeAddNode, 3, 'http://c:1', undefined],
    [
      'a second learner',
      ConfChangeType.ConfChangeAddLearnerNode,
      3,
      'http://c:1',
      EtcdErrors.tooManyLearners,
    ],
    ['removing a stranger', ConfChangeType.ConfChangeRemoveNode, 9, '', EtcdErrors.memberNotFound],
    [
      'updating to a taken URL',
      ConfChangeType.ConfChangeUpdateNode,
      1,
      'http://l:1',
      EtcdErrors.peerURLExists,
    ],
    ['updating its own URL', ConfChangeType.ConfChangeUpdateNode, 1, 'http://a:2', undefined],
  ])('%s', (_name, type, id, url, expected) => {
    expect(refusalOfConfChange(membership, change(type, id), ctx(id, url))).toBe(expected);
  });

  it('never takes back a removed member, and remembers that across a reopen', async () => {
    membership.remove(1);
    expect(
      refusalOfConfChange(
        membership,
        change(ConfChangeType.ConfChangeAddNode, 1),
        ctx(1, 'http://a:1'),
      ),
    ).toBe(EtcdErrors.memberNotFound);
    membership.recordRefused(42);
    await backend.commit();
    const again = new Membership(backend);
    expect(again.isRemoved(1)).toBe(true);
    expect(again.wasRefused(42)).toBe(true);
    expect(again.list().map(m => m.id)).toEqual([2]);
  });
});
