import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {MajorityConfig} from './majority-config.js';

describe('MajorityConfig properties', () => {
  it('committedIndex is the largest index that a majority has acknowledged', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({max: 50}), {minLength: 1, maxLength: 9}), acked => {
        const ids = acked.map((_, i) => i + 1);
        const c = new MajorityConfig(ids);
        const got = c.committedIndex(id => acked[id - 1]);
        const holders = (idx: number) => acked.filter(a => a >= idx).length;
        // A majority holds `got`, and no larger index is held by a majority.
        expect(holders(got)).toBeGreaterThanOrEqual(c.quorum());
        expect(holders(got + 1)).toBeLessThan(c.quorum());
      }),
    );
  });

  it('voteResult is won exactly when a majority granted, lost exactly when it no longer can', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), {
          minLength: 1,
          maxLength: 9,
        }),
        votes => {
          const c = new MajorityConfig(votes.map((_, i) => i + 1));
          const m = new Map<number, boolean>();
          votes.forEach((v, i) => {
            if (v !== undefined) m.set(i + 1, v);
          });
          const granted = votes.filter(v => v === true).length;
          const open = votes.filter(v => v === undefined).length;
          const want =
            granted >= c.quorum() ? 'won' : granted + open >= c.quorum() ? 'pending' : 'lost';
          expect(c.voteResult(m)).toBe(want);
        },
      ),
    );
  });
});
