import {describe, expect, it} from 'vitest';
import {Prng} from '../prng.js';
import {kvModel} from './kv-model.js';
import type {KvInput, KvOperation, KvOutput} from './kv-model.js';
import {checkLinearizability} from './linearizability.js';

const INF = Number.POSITIVE_INFINITY;

function put(c: number, key: string, value: string, callMs: number, returnMs: number): KvOperation {
  const output: KvOutput | undefined = Number.isFinite(returnMs) ? {kind: 'put'} : undefined;
  return {clientId: c, input: {kind: 'put', key, value}, output, callMs, returnMs};
}

function get(
  c: number,
  key: string,
  value: string | undefined,
  callMs: number,
  returnMs: number,
): KvOperation {
  return {clientId: c, input: {kind: 'get', key}, output: {kind: 'get', value}, callMs, returnMs};
}

function cas(
  c: number,
  key: string,
  expected: string | undefined,
  value: string,
  ok: boolean | undefined,
  callMs: number,
  returnMs: number,
): KvOperation {
  const input: KvInput = {kind: 'cas', key, expected, value};
  const output: KvOutput | undefined = ok === undefined ? undefined : {kind: 'cas', ok};
  return {clientId: c, input, output, callMs, returnMs};
}

function verdict(history: KvOperation[]): string {
  return checkLinearizability(kvModel, history).verdict;
}

describe('linearizability checker: linearizable histories', () => {
  it('accepts an empty history', () => {
    expect(verdict([])).toBe('ok');
  });

  it('accepts a read of a key never written as undefined', () => {
    expect(verdict([get(1, 'x', undefined, 0, 5)])).toBe('ok');
  });

  it('accepts a sequential put then get', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', 'a', 11, 20)])).toBe('ok');
  });

  it('accepts a read overlapping a write that sees the old value', () => {
    expect(
      verdict([put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 40), get(2, 'x', 'a', 25, 30)]),
    ).toBe('ok');
  });

  it('accepts a read overlapping a write that sees the new value', () => {
    expect(
      verdict([put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 40), get(2, 'x', 'b', 25, 30)]),
    ).toBe('ok');
  });

  it('accepts two concurrent writes ordered either way by later reads', () => {
    const writes = [put(1, 'x', 'a', 0, 50), put(2, 'x', 'b', 0, 50)];
    expect(verdict([...writes, get(3, 'x', 'a', 60, 70)])).toBe('ok');
    expect(verdict([...writes, get(3, 'x', 'b', 60, 70)])).toBe('ok');
  });

  it('accepts reads during two concurrent writes that see a then b', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 100),
        put(2, 'x', 'b', 0, 100),
        get(3, 'x', 'a', 10, 20),
        get(3, 'x', 'b', 30, 40),
        get(4, 'x', 'b', 50, 60),
      ]),
    ).toBe('ok');
  });

  it('accepts an indeterminate write that took effect', () => {
    expect(
      verdict([put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, INF), get(3, 'x', 'b', 500, 510)]),
    ).toBe('ok');
  });

  it('accepts an indeterminate write that never took effect', () => {
    expect(
      verdict([put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, INF), get(3, 'x', 'a', 500, 510)]),
    ).toBe('ok');
  });

  it('accepts an indeterminate write that took effect late, after reads of the old value', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 10),
        put(2, 'x', 'b', 20, INF),
        get(3, 'x', 'a', 500, 510),
        get(3, 'x', 'b', 600, 610),
      ]),
    ).toBe('ok');
  });

  it('accepts successful and failed compare-and-swaps', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 10),
        cas(2, 'x', 'a', 'b', true, 20, 30),
        cas(3, 'x', 'a', 'c', false, 40, 50),
        get(1, 'x', 'b', 60, 70),
      ]),
    ).toBe('ok');
  });

  it('accepts an indeterminate compare-and-swap whose effect is read later', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 10),
        cas(2, 'x', 'a', 'b', undefined, 20, INF),
        get(3, 'x', 'b', 40, 50),
      ]),
    ).toBe('ok');
  });

  it('accepts operations touching the same instant as concurrent', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 10, 20)])).toBe('ok');
  });

  it('checks each key on its own', () => {
    const result = checkLinearizability(kvModel, [
      put(1, 'x', 'a', 0, 10),
      put(1, 'y', 'b', 0, 10),
      get(2, 'x', 'a', 20, 30),
      get(2, 'y', 'b', 20, 30),
    ]);
    expect(result).toMatchObject({verdict: 'ok', partitions: 2});
  });
});

describe('linearizability checker: non-linearizable histories', () => {
  it('rejects a stale read after a completed write', () => {
    const history = [put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 30), get(2, 'x', 'a', 40, 50)];
    const result = checkLinearizability(kvModel, history);
    expect(result.verdict).toBe('illegal');
    expect(result.failedPartition).toHaveLength(3);
  });

  it('rejects a read of a value that was never written', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', 'zzz', 20, 30)])).toBe('illegal');
  });

  it('rejects a read of undefined after a completed write', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 20, 30)])).toBe('illegal');
  });

  it('rejects two readers that see two writes in opposite orders', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 100),
        put(2, 'x', 'b', 0, 100),
        get(3, 'x', 'a', 10, 20),
        get(3, 'x', 'b', 30, 40),
        get(4, 'x', 'b', 10, 20),
        get(4, 'x', 'a', 30, 40),
      ]),
    ).toBe('illegal');
  });

  it('rejects a read that sees an indeterminate write before the write was called', () => {
    expect(verdict([put(1, 'x', 'a', 100, INF), get(2, 'x', 'a', 0, 50)])).toBe('illegal');
  });

  it('rejects a read that flips back to a value overwritten before it started', () => {
    expect(
      verdict([
        put(1, 'x', 'a', 0, 10),
        put(2, 'x', 'b', 20, INF),
        get(3, 'x', 'b', 30, 40),
        get(3, 'x', 'a', 50, 60),
      ]),
    ).toBe('illegal');
  });

  it('rejects a compare-and-swap that succeeded against the wrong value', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), cas(2, 'x', 'zzz', 'b', true, 20, 30)])).toBe(
      'illegal',
    );
  });

  it('finds the violation on one key among many linearizable ones', () => {
    const history: KvOperation[] = [];
    for (let k = 0; k < 8; k++) {
      history.push(put(1, `k${k}`, 'v', 0, 10), get(2, `k${k}`, 'v', 20, 30));
    }
    history.push(put(1, 'bad', 'a', 0, 10), get(2, 'bad', undefined, 20, 30));
    const result = checkLinearizability(kvModel, history);
    expect(result.verdict).toBe('illegal');
    expect(result.failedPartition?.every(op => op.input.key === 'bad')).toBe(true);
  });
});

/**
 * Random histories of a real register: each operation takes effect at a random instant inside
 * its [call, return] window, so the history is linearizable by construction.
 */
function randomHistory(seed: number, clients: number, opsPerClient: number): KvOperation[] {
  const prng = new Prng(seed);
  interface Pending {
    op: KvOperation;
    atMs: number;
  }
  const planned: Pending[] = [];
  let nextValue = 0;
  for (let c = 0; c < clients; c++) {
    let t = prng.nextInt(5);
    for (let i = 0; i < opsPerClient; i++) {
      const callMs = t;
      const returnMs = callMs + 1 + prng.nextInt(20);
      const atMs = callMs + prng.nextFloat() * (returnMs - callMs);
      const input: KvInput = prng.chance(0.5)
        ? {kind: 'put', key: 'x', value: `v${nextValue++}`}
        : {kind: 'get', key: 'x'};
      planned.push({op: {clientId: c, input, output: undefined, callMs, returnMs}, atMs});
      t = returnMs + prng.nextInt(5);
    }
  }
  planned.sort((a, b) => a.atMs - b.atMs);
  let value: string | undefined;
  return planned.map(({op}) => {
    if (op.input.kind === 'put') {
      value = op.input.value;
      // A few writes lose their reply: the checker must still find the order.
      if (prng.chance(0.1)) return {...op, returnMs: INF};
      return {...op, output: {kind: 'put'}};
    }
    return {...op, output: {kind: 'get', value}};
  });
}

describe('linearizability checker: generated histories', () => {
  it('accepts histories generated from a real register', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const result = checkLinearizability(kvModel, randomHistory(seed, 4, 25));
      expect(result.verdict, `seed ${seed}`).toBe('ok');
    }
  });

  it('rejects the same histories once one completed read is corrupted', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const history = randomHistory(seed, 4, 25);
      const i = history.findIndex(op => op.input.kind === 'get' && op.output !== undefined);
      const op = history[i]!;
      history[i] = {...op, output: {kind: 'get', value: 'never-written'}};
      expect(checkLinearizability(kvModel, history).verdict, `seed ${seed}`).toBe('illegal');
    }
  });

  it('answers unknown instead of searching past its step budget', () => {
    // Many fully concurrent writes followed by an impossible read: a hard refutation.
    const history: KvOperation[] = [];
    for (let c = 0; c < 14; c++) history.push(put(c, 'x', `v${c}`, 0, 100));
    history.push(get(99, 'x', 'nope', 200, 210));
    const result = checkLinearizability(kvModel, history, {maxSteps: 1000});
    expect(result.verdict).toBe('unknown');
    expect(result.steps).toBeLessThanOrEqual(1001);
  });
});
