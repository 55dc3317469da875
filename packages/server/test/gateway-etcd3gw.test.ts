import {etcdSkipReason, startEtcd, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {StoryLine} from './support/etcd3gw.js';
import {etcd3gwSkipReason, killStories, normaliseStory, tellStory} from './support/etcd3gw.js';

/*
 * The JSON gateway as OpenStack reaches it: python's etcd3gw (Debian's python3-etcd3gw),
 * which speaks nothing but the gateway, tells one story (support/etcd3gw_scenario.py) to a
 * real Synod member through the library's default prefix (/v3alpha/ in etcd3gw 2.0.0, which
 * etcd 3.4 no longer serves) and through /v3/, and to a real etcd 3.4 through /v3/. Each
 * transcript must read as written below, and Synod's must equal etcd's.
 */

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** A key's metadata as etcd3gw hands it back, revisions counted from the story's start. */
function meta(key: string, created: number, modified: number, version: number): object {
  return {
    key,
    create_revision: `rev+${String(created)}`,
    mod_revision: `rev+${String(modified)}`,
    version: String(version),
  };
}

/** A key-value in a raw gateway answer (a txn's): key and value in base64. */
function rawKv(key: string, value: string, created: number, modified: number, version: number) {
  return {...meta(b64(key), created, modified, version), value: b64(value)};
}

/** The header of a response nested in a txn: the revision only, as etcd fills it there. */
const nested = (revision: number): object => ({header: {revision: `rev+${String(revision)}`}});

/** A response header, ids and term normalised. */
const header = (revision: number): object => ({
  cluster_id: 'id#0',
  member_id: 'id#1',
  revision: `rev+${String(revision)}`,
  raft_term: '<own>',
});

/** What each step of the story hands back, normalised (support/etcd3gw.ts says how). */
const story: readonly StoryLine[] = [
  {step: 'start_revision', result: {revision: 'rev+0'}},
  {step: 'put k/a', result: true},
  {step: 'put k/b', result: true},
  {step: 'put k/c', result: true},
  {step: 'get k/a', result: ['1']},
  {step: 'get missing', result: []},
  {step: 'get k/a with metadata', result: [['1', meta('k/a', 1, 1, 1)]]},
  {
    step: 'get_prefix k/',
    result: [
      ['1', meta('k/a', 1, 1, 1)],
      ['2', meta('k/b', 2, 2, 1)],
      ['3', meta('k/c', 3, 3, 1)],
    ],
  },
  {step: 'get_prefix k/ descending by key', result: ['3', '2', '1']},
  {
    step: 'get_all',
    result: [
      ['k/a', '1'],
      ['k/b', '2'],
      ['k/c', '3'],
    ],
  },
  {step: 'replace k/a 1 -> one', result: true},
  {step: 'replace k/a 1 -> uno', result: false},
  {step: 'create k/new', result: true},
  {step: 'create k/new again', result: false},
  {step: 'get k/new', result: ['fresh']},
  {
    step: 'txn: k/b is 2, so put k/b and read k/a',
    result: {
      header: header(6),
      succeeded: true,
      responses: [
        {response_put: {...nested(6), prev_kv: rawKv('k/b', '2', 2, 2, 1)}},
        {response_range: {...nested(6), kvs: [rawKv('k/a', 'one', 1, 4, 2)], count: '1'}},
      ],
    },
  },
  {
    // A txn that fails leaves `succeeded` out: false is the field's zero value.
    step: 'txn: k/b is not 2 any more, so read it',
    result: {
      header: header(6),
      responses: [
        {response_range: {...nested(6), kvs: [rawKv('k/b', 'two', 2, 6, 2)], count: '1'}},
      ],
    },
  },
  {
    step: 'txn: version of k/c greater than 0, delete it',
    result: {
      header: header(7),
      succeeded: true,
      responses: [
        {
          response_delete_range: {
            ...nested(7),
            deleted: '1',
            prev_kvs: [rawKv('k/c', '3', 3, 3, 1)],
          },
        },
      ],
    },
  },
  // etcd3gw's delete() says whether the answer has `deleted`, which a count of 0 leaves out.
  {step: 'delete k/c, already gone', result: false},
  {step: 'delete k/new', result: true},
  {
    step: 'get_prefix k/ after deletes',
    result: [
      ['k/a', 'one'],
      ['k/b', 'two'],
    ],
  },
  {
    step: 'watch w/key: put x, put y, delete',
    result: [
      {type: 'PUT', key: 'w/key', value: 'x', mod_revision: 'rev+9'},
      {type: 'PUT', key: 'w/key', value: 'y', mod_revision: 'rev+10', prev_value: 'x'},
      {type: 'DELETE', key: 'w/key', value: '', mod_revision: 'rev+11', prev_value: 'y'},
    ],
  },
  {
    step: 'watch_prefix wp/: put wp/a, other, wp/b',
    result: [
      {type: 'PUT', key: 'wp/a', value: '1', mod_revision: 'rev+12'},
      {type: 'PUT', key: 'wp/b', value: '2', mod_revision: 'rev+14'},
    ],
  },
  {step: 'get k/a metadata', result: meta('k/a', 1, 4, 2)},
  {
    step: 'watch_once k/a from its first revision',
    result: {kv: {...meta('k/a', 1, 1, 1), value: '1'}},
  },
  {step: 'delete_prefix wp/', result: true},
  {step: 'delete other', result: true},
  {step: 'lease grant', result: {ID: 'id#2'}},
  {step: 'put l/key with the lease', result: true},
  {step: 'lease keys', result: ['l/key']},
  {step: 'lease ttl', result: {TTL: '~60', grantedTTL: 60}},
  {step: 'lease refresh', result: 60},
  {
    step: 'get l/key with metadata',
    result: [['leased', {...meta('l/key', 17, 17, 1), lease: 'id#2'}]],
  },
  {step: 'lease revoke', result: true},
  {step: 'get l/key after revoke', result: []},
  {step: 'lease ttl after revoke', result: -1},
  {step: 'lease keys after revoke', result: []},
  {step: 'lock acquire', result: true},
  {step: 'lock is_acquired', result: true},
  {step: 'lock key holds its uuid', result: true},
  {step: 'rival acquire while held', result: false},
  {step: 'rival is_acquired', result: false},
  {step: 'rival release, not the holder', result: false},
  {step: 'lock still is_acquired', result: true},
  {step: 'lock refresh', result: 30},
  {step: 'lock release', result: true},
  {step: 'lock is_acquired after release', result: false},
  {step: 'rival acquire after release', result: true},
  {step: 'rival release', result: true},
  {step: 'lock as a context manager', result: {inside: true, after: false, 'key left': []}},
  {
    step: 'members',
    result: [{ID: 'id#1', name: 'm0', peerURLs: ['<peer url>'], clientURLs: ['<client url>']}],
  },
  {
    step: 'status',
    result: {
      header: header(24),
      version: '<own>',
      dbSize: '<own>',
      leader: 'id#1',
      raftIndex: '<own>',
      raftTerm: '<own>',
      raftAppliedIndex: '<own>',
      dbSizeInUse: '<own>',
    },
  },
  {step: 'delete_prefix k/', result: true},
  {step: 'get_prefix k/ at the end', result: []},
];

/** A transcript without its first line, the prefix the client used. */
function afterPrefix(lines: readonly StoryLine[], prefix: string): StoryLine[] {
  expect(lines[0]).toEqual({step: 'api_path', result: prefix});
  return lines.slice(1);
}

function firstMember(cluster: EtcdCluster | undefined): EtcdMember {
  const member = cluster?.members[0];
  if (member === undefined) throw new Error('the server did not start');
  return member;
}

const suite = 'python etcd3gw against the JSON gateway';

describe.skipIf(etcd3gwSkipReason !== undefined)(
  etcd3gwSkipReason === undefined ? suite : `${suite} (skipped: ${etcd3gwSkipReason})`,
  () => {
    let synod: EtcdCluster | undefined;
    let etcd: EtcdCluster | undefined;
    let synodDefault: StoryLine[] = [];
    let synodV3: StoryLine[] = [];
    let etcdV3: StoryLine[] = [];

    beforeAll(async () => {
      const started = await Promise.allSettled([
        startSynod().then(cluster => (synod = cluster)),
        etcdSkipReason === undefined ? startEtcd().then(cluster => (etcd = cluster)) : undefined,
      ]);
      for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
      const synodUrl = firstMember(synod).clientUrl;
      await Promise.all([
        // One telling at a time on Synod: the second starts where the first left the store.
        (async () => {
          synodDefault = await tellStory(synodUrl, undefined);
          synodV3 = await tellStory(synodUrl, '/v3/');
        })(),
        etcd === undefined
          ? undefined
          : tellStory(firstMember(etcd).clientUrl, '/v3/').then(lines => (etcdV3 = lines)),
      ]);
    }, 40_000);

    afterAll(async () => {
      killStories();
      await synod?.stop();
      await etcd?.stop();
    });

    it("Synod answers every step through etcd3gw's default prefix, /v3alpha/", () => {
      const lines = afterPrefix(synodDefault, '/v3alpha/');
      expect(normaliseStory(lines, firstMember(synod))).toEqual(story);
    });

    it('Synod answers every step through /v3/', () => {
      const lines = afterPrefix(synodV3, '/v3/');
      expect(normaliseStory(lines, firstMember(synod))).toEqual(story);
    });

    it.skipIf(etcdSkipReason !== undefined)('etcd 3.4 answers every step as written here', () => {
      const lines = afterPrefix(etcdV3, '/v3/');
      expect(normaliseStory(lines, firstMember(etcd))).toEqual(story);
    });

    it.skipIf(etcdSkipReason !== undefined)(
      "Synod's transcripts, through either prefix, equal etcd's step by step",
      () => {
        const reference = normaliseStory(afterPrefix(etcdV3, '/v3/'), firstMember(etcd));
        const member = firstMember(synod);
        expect(normaliseStory(afterPrefix(synodV3, '/v3/'), member)).toEqual(reference);
        expect(normaliseStory(afterPrefix(synodDefault, '/v3alpha/'), member)).toEqual(reference);
      },
    );
  },
);
