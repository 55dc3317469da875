import {describe, expect, it} from 'vitest';

import {canaryPrefix, touchesCanary} from './guard.js';

const canary = (suffix: string): Buffer => Buffer.concat([canaryPrefix, Buffer.from(suffix)]);
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const none = Buffer.alloc(0);
const toTheEnd = Buffer.from([0]);

describe('touchesCanary', () => {
  it.each([
    ['one fuzz key', bytes('fz/a'), none, false],
    ['one canary key', canary('a'), none, true],
    ['the canary prefix itself', canaryPrefix, none, true],
    ['a range below the canary keys', bytes('a'), bytes('fz0'), false],
    ['everything from "a" on', bytes('a'), toTheEnd, true],
    ['everything', toTheEnd, toTheEnd, true],
    ['a range ending at the canary prefix', bytes('a'), canaryPrefix, false],
    ['a range ending one byte into it', bytes('a'), canary('\u0000'), true],
    ['a range starting past the canary keys', bytes('\u00ff\u00ff'), toTheEnd, false],
    ['an empty range (end before key)', canary('z'), canary('a'), false],
  ] as const)('%s', (_, key, rangeEnd, expected) => {
    expect(touchesCanary(key, rangeEnd)).toBe(expected);
  });
});
