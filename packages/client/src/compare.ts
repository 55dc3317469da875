import {Compare_CompareResult, Compare_CompareTarget} from '@synod/proto';
import type {Compare as ProtoCompare, DeepPartial} from '@synod/proto';

import {toBuffer} from './bytes.js';
import type {Bytes} from './bytes.js';
import type {KeySelector, KeySpace} from './key-space.js';

/** A revision, version or lease id given by the caller; numbers must be safe integers. */
export type Int64Like = bigint | number;

/** How a compare relates the stored value to the given one. */
export type CompareOperator = '=' | '!=' | '>' | '<';

/** What of the key a compare looks at. */
export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';

/**
 * One condition of a transaction guard. Over a range (`{prefix: ...}`) every key in it must
 * satisfy the condition. A missing key has version, create and mod revision and lease 0,
 * and fails every `value` compare.
 */
export interface Comparison {
  readonly target: CompareTarget;
  readonly selector: KeySelector;
  readonly operator: CompareOperator;
  readonly operand: bigint | Buffer;
}

/** Converts a caller's integer to `bigint`, refusing numbers that lost precision. */
export function toInt64(value: Int64Like, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be an integer (a bigint above 2^53), got ${value}`);
  }
  return BigInt(value);
}

function make(
  target: CompareTarget,
  selector: KeySelector,
  operator: CompareOperator,
  operand: bigint | Buffer,
): Comparison {
  return {target, selector, operator, operand};
}

/**
 * Builders of transaction compares:
 * `compare.version('k', '=', 0)` (the key does not exist),
 * `compare.modRevision('k', '<', rev)`, `compare.value('k', '=', 'v')`,
 * `compare.createRevision({prefix: 'lock/'}, '<', rev)`, `compare.lease('k', '=', id)`.
 */
export const compare = {
  version: (key: KeySelector, operator: CompareOperator, version: Int64Like): Comparison =>
    make('version', key, operator, toInt64(version, 'version')),
  createRevision: (key: KeySelector, operator: CompareOperator, revision: Int64Like): Comparison =>
    make('create', key, operator, toInt64(revision, 'createRevision')),
  modRevision: (key: KeySelector, operator: CompareOperator, revision: Int64Like): Comparison =>
    make('mod', key, operator, toInt64(revision, 'modRevision')),
  value: (key: KeySelector, operator: CompareOperator, value: Bytes): Comparison =>
    make('value', key, operator, toBuffer(value)),
  lease: (key: KeySelector, operator: CompareOperator, lease: Int64Like): Comparison =>
    make('lease', key, operator, toInt64(lease, 'lease')),
} as const;

const results: Record<CompareOperator, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

/** @internal The wire form of a compare, keys mapped into `space`. */
export function toProtoCompare(space: KeySpace, c: Comparison): DeepPartial<ProtoCompare> {
  const {key, rangeEnd} = space.range(c.selector);
  const base = {key, rangeEnd, result: results[c.operator]};
  const int = (): bigint => {
    if (typeof c.operand !== 'bigint') throw new TypeError(`compare ${c.target} needs an integer`);
    return c.operand;
  };
  switch (c.target) {
    case 'version':
      return {
        ...base,
        target: Compare_CompareTarget.VERSION,
        targetUnion: {$case: 'version', value: int()},
      };
    case 'create':
      return {
        ...base,
        target: Compare_CompareTarget.CREATE,
        targetUnion: {$case: 'createRevision', value: int()},
      };
    case 'mod':
      return {
        ...base,
        target: Compare_CompareTarget.MOD,
        targetUnion: {$case: 'modRevision', value: int()},
      };
    case 'lease':
      return {
        ...base,
        target: Compare_CompareTarget.LEASE,
        targetUnion: {$case: 'lease', value: int()},
      };
    case 'value': {
      if (typeof c.operand === 'bigint') throw new TypeError('compare value needs bytes');
      return {
        ...base,
        target: Compare_CompareTarget.VALUE,
        targetUnion: {$case: 'value', value: c.operand},
      };
    }
  }
}
