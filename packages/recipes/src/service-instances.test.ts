import {KeyValue} from '@synod/client';
import {map} from 'rxjs';
import {TestScheduler} from 'rxjs/testing';
import {describe, expect, it} from 'vitest';

import {applyBatch} from './key-snapshot.js';
import type {KeySnapshot} from './key-snapshot.js';
import {randomPicker, roundRobinPicker} from './pickers.js';
import {toServiceInstances} from './service-instances.js';
import type {ServiceInstance} from './service-instances.js';

function kv(key: string, value: string, modRevision: bigint): KeyValue {
  return new KeyValue(Buffer.from(key), Buffer.from(value), modRevision, modRevision, 1n, 7n);
}

const initial: KeySnapshot = {
  revision: 10n,
  kvs: new Map([
    ['services/api/b', kv('services/api/b', '{"port":2}', 9n)],
    ['services/api/a', kv('services/api/a', '{"port":1}', 8n)],
  ]),
};

function batch(
  revision: bigint,
  events: {type: 'put' | 'delete'; key: string; value?: string}[],
): Parameters<typeof applyBatch>[1] {
  return {
    header: {clusterId: 0n, memberId: 0n, revision, raftTerm: 0n},
    progressNotify: false,
    events: events.map(e => ({
      type: e.type,
      kv: kv(e.key, e.value ?? '', revision),
      prevKv: undefined,
    })),
  };
}

const joined = applyBatch(
  initial,
  batch(11n, [{type: 'put', key: 'services/api/c', value: '{"port":3}'}]),
);
const progress = applyBatch(joined, {...batch(12n, []), progressNotify: true});
const left = applyBatch(progress, batch(13n, [{type: 'delete', key: 'services/api/a'}]));
const junk = applyBatch(
  left,
  batch(14n, [{type: 'put', key: 'services/api/d', value: 'not json'}]),
);

function ids(list: readonly ServiceInstance[]): string {
  return list.map(i => i.id).join(',');
}

describe('toServiceInstances', () => {
  it('folds snapshots into sorted full lists, emitting only on membership or metadata change', () => {
    new TestScheduler((actual, expected) => {
      expect(actual).toEqual(expected);
    }).run(({cold, expectObservable}) => {
      const source = cold('i-j-p-l-x|', {i: initial, j: joined, p: progress, l: left, x: junk});
      const out = source.pipe(toServiceInstances<{port: number}>('api', 'services/api/'));
      expectObservable(out.pipe(map(ids))).toBe('i-j---l--|', {i: 'a,b', j: 'a,b,c', l: 'b,c'});
    });
  });

  it('freezes lists and parses metadata', () => {
    const seen: (readonly ServiceInstance<{port: number}>[])[] = [];
    new TestScheduler(() => undefined).run(({cold}) => {
      cold('i|', {i: initial})
        .pipe(toServiceInstances<{port: number}>('api', 'services/api/'))
        .subscribe(l => seen.push(l));
    });
    expect(Object.isFrozen(seen[0])).toBe(true);
    expect(seen[0]?.map(i => i.metadata.port)).toEqual([1, 2]);
    expect(seen[0]?.[0]).toMatchObject({service: 'api', id: 'a', modRevision: 8n, lease: 7n});
  });
});

describe('pickers', () => {
  const list = (idsList: string[]): ServiceInstance[] =>
    idsList.map(id => ({service: 's', id, metadata: null, modRevision: 1n, lease: 1n}));

  it('round-robin cycles by id and survives joins and leaves without skipping', () => {
    const pick = roundRobinPicker();
    expect(pick(list(['a', 'b', 'c']))?.id).toBe('a');
    expect(pick(list(['a', 'b', 'c']))?.id).toBe('b');
    expect(pick(list(['a', 'c']))?.id).toBe('c');
    expect(pick(list(['a', 'c', 'd']))?.id).toBe('d');
    expect(pick(list(['a', 'c', 'd']))?.id).toBe('a');
    expect(pick([])).toBeUndefined();
  });

  it('random picks by the injected generator', () => {
    const values = [0, 0.5, 0.99];
    const pick = randomPicker(() => values.shift() ?? 0);
    const l = list(['a', 'b', 'c']);
    expect([pick(l)?.id, pick(l)?.id, pick(l)?.id]).toEqual(['a', 'b', 'c']);
    expect(pick([])).toBeUndefined();
  });
});
