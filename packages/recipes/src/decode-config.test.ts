import {TestScheduler} from 'rxjs/testing';
import {describe, expect, it} from 'vitest';

import {ConfigInvalidError, decodeConfig} from './decode-config.js';

interface Settings {
  readonly workers: number;
}

function parseSettings(raw: string): Settings {
  const parsed = JSON.parse(raw) as Partial<Settings>;
  if (typeof parsed.workers !== 'number') throw new Error('workers must be a number');
  return {workers: parsed.workers};
}

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const raw = {
  a: '{"workers":1}',
  b: '{"workers":2}',
  bad: '{"workers":"many"}',
  junk: 'not json',
  u: undefined,
};

describe('decodeConfig', () => {
  it('emits decoded values, skips repeats of the same raw value', () => {
    scheduler().run(({cold, expectObservable}) => {
      const source = cold('a-a-b-b-a|', raw);
      expectObservable(source.pipe(decodeConfig({source: 'cfg', decode: parseSettings}))).toBe(
        'a---b---a|',
        {a: {workers: 1}, b: {workers: 2}},
      );
    });
  });

  it('keeps the last good value on invalid data and reports each failure', () => {
    const reported: unknown[] = [];
    scheduler().run(({cold, expectObservable}) => {
      const source = cold('a-x-j-b|', {...raw, x: raw.bad, j: raw.junk});
      expectObservable(
        source.pipe(
          decodeConfig({
            source: 'cfg',
            decode: parseSettings,
            onInvalid: error => reported.push(error.raw),
          }),
        ),
      ).toBe('a-----b|', {a: {workers: 1}, b: {workers: 2}});
    });
    expect(reported).toEqual([raw.bad, raw.junk]);
  });

  it('reports invalid values to onInvalid with the raw value', () => {
    const reported: ConfigInvalidError[] = [];
    scheduler().run(({cold, expectObservable}) => {
      const source = cold('a-x-a|', {a: raw.a, x: raw.bad});
      expectObservable(
        source.pipe(
          decodeConfig({source: 'cfg', decode: parseSettings, onInvalid: e => reported.push(e)}),
        ),
      ).toBe('a----|', {a: {workers: 1}});
    });
    expect(reported).toHaveLength(1);
    expect(reported[0]?.raw).toBe(raw.bad);
    expect(reported[0]?.message).toContain('workers must be a number');
  });

  it('errors on invalid data when strict', () => {
    scheduler().run(({cold, expectObservable}) => {
      const source = cold('a-x-b|', {a: raw.a, x: raw.bad, b: raw.b});
      expectObservable(
        source.pipe(decodeConfig({source: 'cfg', decode: parseSettings, strict: true})),
      ).toBe(
        'a-#',
        {a: {workers: 1}},
        new ConfigInvalidError('cfg', raw.bad, new Error('workers must be a number')),
      );
    });
  });

  it('emits the default while missing, or nothing without one', () => {
    scheduler().run(({cold, expectObservable}) => {
      const source = cold('u-a-u-u-b|', raw);
      expectObservable(
        source.pipe(decodeConfig({source: 'cfg', decode: parseSettings, default: {workers: 0}})),
      ).toBe('d-a-d---b|', {d: {workers: 0}, a: {workers: 1}, b: {workers: 2}});
      expectObservable(source.pipe(decodeConfig({source: 'cfg', decode: parseSettings}))).toBe(
        '--a-----b|',
        {a: {workers: 1}, b: {workers: 2}},
      );
    });
  });
});
