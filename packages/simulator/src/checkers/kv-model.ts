import type {Model, Operation} from './linearizability.js';

/** A client request to the key-value store. */
export type KvInput =
  | {readonly kind: 'put'; readonly key: string; readonly value: string}
  | {readonly kind: 'get'; readonly key: string}
  | {
      readonly kind: 'cas';
      readonly key: string;
      readonly expected: string | undefined;
      readonly value: string;
    };

/** What the store answered. `get` of a missing key has `value: undefined`. */
export type KvOutput =
  | {readonly kind: 'put'}
  | {readonly kind: 'get'; readonly value: string | undefined}
  | {readonly kind: 'cas'; readonly ok: boolean};

export type KvOperation = Operation<KvInput, KvOutput>;

/**
 * kvModel is the sequential specification of a map of registers. It always partitions the
 * history per key (a map is the product of independent registers), so the state it steps is
 * the value of one key: `null` until the first write (`undefined` is the model's "illegal").
 *
 * Reads with an unknown outcome are dropped while partitioning: they have no effect, and any
 * value would do.
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.kind) {
      case 'put':
        return input.value;
      case 'get':
        if (output === undefined) return state;
        return output.kind === 'get' && (output.value ?? null) === state ? state : undefined;
      case 'cas': {
        const matches = state === (input.expected ?? null);
        if (output === undefined) return matches ? input.value : state;
        if (output.kind !== 'cas' || output.ok !== matches) return undefined;
        return matches ? input.value : state;
      }
    }
  },
  // The absent value and every string must map to distinct keys.
  stateKey: state => (state === null ? '-' : '=' + state),
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      if (op.input.kind === 'get' && op.output === undefined) continue;
      let ops = byKey.get(op.input.key);
      if (ops === undefined) {
        ops = [];
        byKey.set(op.input.key, ops);
      }
      ops.push(op);
    }
    return [...byKey.values()];
  },
  describeOperation(op) {
    const i = op.input;
    const args =
      i.kind === 'put'
        ? `put(${i.key}, ${i.value})`
        : i.kind === 'get'
          ? `get(${i.key})`
          : `cas(${i.key}, ${String(i.expected)} -> ${i.value})`;
    const o = op.output;
    const out =
      o === undefined
        ? '?'
        : o.kind === 'get'
          ? String(o.value)
          : o.kind === 'cas'
            ? String(o.ok)
            : 'ok';
    const ret = Number.isFinite(op.returnMs) ? String(op.returnMs) : 'inf';
    return `c${op.clientId} ${args} -> ${out} [${op.callMs}, ${ret}]`;
  },
};
