/**
 * One client operation of a history. `output` is undefined when the client never learned the
 * outcome (a timeout, a crash of the member it talked to): the operation may or may not have
 * taken effect, at any time after its call, so its `returnMs` is `Infinity`.
 */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly output: O | undefined;
  readonly callMs: number;
  readonly returnMs: number;
}

/**
 * A sequential specification. `step` applies `input` to `state` and returns the next state if
 * the specification can produce `output` from it, or undefined if it cannot. With an undefined
 * (unknown) output, `step` must accept and apply the effect.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** stateKey returns a string equal for equal states (memoisation key). */
  stateKey(state: S): string;
  /**
   * partition splits a history into independent sub-histories (P-compositionality), e.g. one
   * per key of a map. Without it the whole history is checked at once.
   */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  describeOperation?(op: Operation<I, O>): string;
}

/** `ok`: linearizable. `illegal`: no linearization exists. `unknown`: the step budget ran out. */
export type LinearizabilityVerdict = 'ok' | 'illegal' | 'unknown';

export interface LinearizabilityResult<I, O> {
  readonly verdict: LinearizabilityVerdict;
  /** Search steps taken over all partitions. */
  readonly steps: number;
  readonly partitions: number;
  /** For `illegal`: the sub-history without a linearization. */
  readonly failedPartition?: readonly Operation<I, O>[];
  /** For `illegal`: the longest sequence of that sub-history the search could linearize. */
  readonly longestLinearizedPrefix?: readonly Operation<I, O>[];
}

export interface LinearizabilityOptions {
  /** Budget of search steps over all partitions before answering `unknown`. */
  readonly maxSteps?: number;
}

interface ListNode {
  /** Index of the operation in the partition. */
  readonly op: number;
  readonly isCall: boolean;
  /** For a call, its return node. */
  match: ListNode | undefined;
  prev: ListNode | undefined;
  next: ListNode | undefined;
}

/**
 * checkLinearizability decides whether a history is linearizable with respect to `model`.
 *
 * It is the Wing–Gong search with Lowe's memoisation (the "WGL" algorithm): walk a linked list
 * of call and return events in time order; an operation whose call comes before every pending
 * return is a candidate to linearize next. Linearizing it applies it to the model and lifts its
 * call and return out of the list; reaching a return whose call is not yet linearized means the
 * current order is impossible, so the search backtracks. A configuration (set of linearized
 * operations, model state) that was seen before is never explored again, which prunes the
 * search from factorial to exponential in the number of concurrent operations.
 *
 * Each partition (see {@link Model.partition}) is checked on its own; the history is
 * linearizable iff every partition is (Herlihy–Wing locality).
 *
 * Ties: a call and a return at the same time are treated as concurrent, the permissive reading
 * of a clock with millisecond resolution.
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult<I, O> {
  const maxSteps = options.maxSteps ?? 5_000_000;
  const partitions = model.partition?.(history) ?? [[...history]];
  let steps = 0;
  let unknown = false;
  for (const part of partitions) {
    const result = checkPartition(model, part, maxSteps - steps);
    steps += result.steps;
    if (result.verdict === 'illegal') {
      return {
        verdict: 'illegal',
        steps,
        partitions: partitions.length,
        failedPartition: part,
        longestLinearizedPrefix: result.longest.map(i => part[i] as Operation<I, O>),
      };
    }
    if (result.verdict === 'unknown') {
      unknown = true;
      // A later partition may still prove the history illegal, but only with budget left.
      if (steps >= maxSteps) break;
    }
  }
  return {verdict: unknown ? 'unknown' : 'ok', steps, partitions: partitions.length};
}

interface PartitionResult {
  verdict: LinearizabilityVerdict;
  steps: number;
  longest: number[];
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: number,
): PartitionResult {
  for (const op of ops) {
    if (!(op.returnMs >= op.callMs)) {
      throw new RangeError(`operation returns (${op.returnMs}) before its call (${op.callMs})`);
    }
  }
  const head = buildList(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) || 1);
  const seen = new Set<string>();
  const stack: {node: ListNode; state: S}[] = [];
  let longest: number[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;

  while (head.next !== undefined) {
    if (steps++ >= budget) {
      return {verdict: 'unknown', steps, longest};
    }
    if (entry === undefined) {
      // Cannot happen: the list always ends with a return, which is handled below.
      throw new Error('linearizability search ran past the end of the history');
    }
    const op = ops[entry.op] as Operation<I, O>;
    if (entry.isCall) {
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        setBit(linearized, entry.op);
        const key = bitsKey(linearized) + '|' + model.stateKey(next);
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({node: entry, state});
          if (stack.length > longest.length) longest = stack.map(s => s.node.op);
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        clearBit(linearized, entry.op);
      }
      entry = entry.next;
    } else {
      // A return whose call is still in the list: this order cannot be completed.
      const top = stack.pop();
      if (top === undefined) {
        return {verdict: 'illegal', steps, longest};
      }
      state = top.state;
      clearBit(linearized, top.node.op);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return {verdict: 'ok', steps, longest};
}

function buildList<I, O>(ops: readonly Operation<I, O>[]): ListNode {
  const events: {time: number; node: ListNode}[] = [];
  ops.forEach((op, i) => {
    const call: ListNode = {
      op: i,
      isCall: true,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    const ret: ListNode = {
      op: i,
      isCall: false,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    call.match = ret;
    events.push({time: op.callMs, node: call}, {time: op.returnMs, node: ret});
  });
  // Calls sort before returns at equal times, so touching operations count as concurrent.
  events.sort(
    (a, b) =>
      a.time - b.time || Number(b.node.isCall) - Number(a.node.isCall) || a.node.op - b.node.op,
  );
  const head: ListNode = {
    op: -1,
    isCall: false,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let tail = head;
  for (const {node} of events) {
    node.prev = tail;
    tail.next = node;
    tail = node;
  }
  return head;
}

/** lift removes a call and its return from the list; `unlift` puts them back. */
function lift(call: ListNode): void {
  const ret = call.match as ListNode;
  (call.prev as ListNode).next = call.next;
  if (call.next !== undefined) call.next.prev = call.prev;
  (ret.prev as ListNode).next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

function unlift(call: ListNode): void {
  const ret = call.match as ListNode;
  // Undo in reverse order: the return was unlinked last.
  (ret.prev as ListNode).next = ret;
  if (ret.next !== undefined) ret.next.prev = ret;
  (call.prev as ListNode).next = call;
  if (call.next !== undefined) call.next.prev = call;
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = ((bits[i >>> 5] ?? 0) | (1 << (i & 31))) >>> 0;
}

function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = ((bits[i >>> 5] ?? 0) & ~(1 << (i & 31))) >>> 0;
}

function bitsKey(bits: Uint32Array): string {
  return bits.join(',');
}
