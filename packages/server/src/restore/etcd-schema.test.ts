import {revisionKey} from '@synod/storage';
import {describe, expect, it} from 'vitest';

import {etcdRevisionKey, etcdRevisionKeyOfSynod} from './etcd-schema.js';

describe('etcdRevisionKeyOfSynod copies a Synod revision key into etcd layout', () => {
  it.each([
    [2, 0, false],
    [2, 0, true],
    [2 ** 53 - 1, 300, false],
    [0x0102030405, 7, true],
  ])('revision %i.%i, tombstone %s', (main, sub, tombstone) => {
    expect(etcdRevisionKeyOfSynod(revisionKey(main, sub), tombstone)).toEqual(
      etcdRevisionKey(main, sub, tombstone),
    );
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => etcdRevisionKeyOfSynod(new Uint8Array(17), false)).toThrow(/16 bytes, not 17/);
  });
});
