import {describe, expect, it} from 'vitest';

import {HEAP_GROWING_PERCENT, tuneHeap} from './tune-heap.js';

describe('V8 heap tuning at start', () => {
  it('sets the heap growing factor when the operator did not', () => {
    expect(tuneHeap([], {})).toEqual([`--heap-growing-percent=${String(HEAP_GROWING_PERCENT)}`]);
  });

  it("leaves the operator's own setting alone, from the node command line or NODE_OPTIONS", () => {
    expect(tuneHeap(['--heap-growing-percent=80'], {})).toEqual([]);
    expect(tuneHeap([], {NODE_OPTIONS: '--enable-source-maps --heap_growing_percent=80'})).toEqual(
      [],
    );
  });
});
