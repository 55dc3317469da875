/**
 * A half-open key interval `[start, end)` in byte order; `end` undefined means
 * "to the end of the key space".
 */
export interface KeyInterval {
  readonly start: Buffer;
  readonly end: Buffer | undefined;
}

const zero = Buffer.from([0]);

/**
 * The interval a `key` / `range_end` pair names, with the conventions of a
 * Range request and of a role's permission: no `range_end` is the single key
 * (`[key, key + "\0")`), `range_end` `"\0"` is every key from `key` on, and
 * otherwise it is `[key, range_end)`.
 *
 * Examples: `("a", "")` is `[a, a\0)`; `("a/", "a0")` is the prefix `a/`;
 * `("a", "\0")` is `[a, +inf)`.
 */
export function keyInterval(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval {
  const start = Buffer.from(key);
  if (rangeEnd.length === 0) return {start, end: Buffer.concat([start, zero])};
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return {start, end: undefined};
  return {start, end: Buffer.from(rangeEnd)};
}

/** Compares interval ends, where undefined is past every key. */
function compareEnd(a: Buffer | undefined, b: Buffer | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return Buffer.compare(a, b);
}

/**
 * Whether the union of `granted` covers all of `wanted`, as etcd's interval
 * tree `Contains` decides it: a request for a range is allowed only when every
 * key it could touch lies in some granted interval. An empty `wanted` (end at
 * or before start) is treated as the single key at its start.
 *
 * Example: granted `[a, b)` and `[b, c)` cover `[a/x, b/y)`; granted `[a, b)`
 * and `[c, d)` do not cover `[a, c\0)`.
 */
export function covers(granted: readonly KeyInterval[], wanted: KeyInterval): boolean {
  let end = wanted.end;
  if (end !== undefined && Buffer.compare(end, wanted.start) <= 0) {
    end = Buffer.concat([wanted.start, zero]);
  }
  const sorted = [...granted].sort((a, b) => Buffer.compare(a.start, b.start));
  // Invariant: every key in [wanted.start, reached) is covered.
  let reached: Buffer | undefined = wanted.start;
  for (const g of sorted) {
    if (reached === undefined) return true;
    if (Buffer.compare(g.start, reached) > 0) break;
    if (compareEnd(g.end, reached) > 0) reached = g.end;
  }
  return compareEnd(reached, end) >= 0;
}
