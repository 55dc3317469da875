import {describe, expect, it} from 'vitest';

import {covers, keyInterval} from './key-ranges.js';

const b = (s: string) => Buffer.from(s);
const ivl = (key: string, end = '') => keyInterval(b(key), b(end));
const fromKey = (key: string) => keyInterval(b(key), Buffer.from([0]));

describe('covers', () => {
  it.each([
    ['a single key inside a prefix', [ivl('app/', 'app0')], ivl('app/x'), true],
    ['the prefix itself', [ivl('app/', 'app0')], ivl('app/', 'app0'), true],
    ['a key outside the prefix', [ivl('app/', 'app0')], ivl('other'), false],
    ['a range that leaves the prefix', [ivl('app/', 'app0')], ivl('app/', 'b'), false],
    ['a key granted alone', [ivl('k')], ivl('k'), true],
    ['a neighbour of a key granted alone', [ivl('k')], ivl('k0'), false],
    ['a range over a key granted alone', [ivl('k')], ivl('k', 'l'), false],
    ['adjacent grants joined', [ivl('a', 'b'), ivl('b', 'c')], ivl('a/x', 'b/y'), true],
    ['grants with a gap', [ivl('a', 'b'), ivl('c', 'd')], ivl('a', 'c\0'), false],
    ['from-key grant covers everything after', [fromKey('m')], fromKey('z'), true],
    ['from-key grant does not cover before', [fromKey('m')], ivl('l'), false],
    ['bounded grant does not cover a from-key request', [ivl('a', 'z')], fromKey('b'), false],
    ['everything', [fromKey('\0')], fromKey('\0'), true],
    ['nothing granted', [], ivl('a'), false],
  ])('%s', (_name, granted, wanted, expected) => {
    expect(covers(granted, wanted)).toBe(expected);
  });
});
