import type {FuzzRandom} from './prng.js';

/** etcd's default `--max-request-bytes`, which Synod shares: 1.5 MiB. */
export const maxRequestBytes = 1.5 * 1024 * 1024;

/**
 * Lengths at which names and keys are interesting: empty, one byte, both sides of LMDB's
 * largest key (1978 bytes), 64 KiB, and both sides of the request limit once the rest of
 * the message is added.
 */
export const boundaryLengths: readonly number[] = [
  0,
  1,
  1978,
  1979,
  65_536,
  maxRequestBytes - 64,
  maxRequestBytes + 64,
];

/** Every key the fuzzer writes starts with this, so the canary keys stay out of reach. */
export const fuzzKeyPrefix = 'fz/';

/** A lease every run grants first (with this id) so lock and election templates can hold it. */
export const fuzzLeaseId = 0x46_5a_5a_01n;

/** int64 values worth trying: the edges and their neighbours. */
export const extremeInt64: readonly bigint[] = [
  0n,
  1n,
  -1n,
  (1n << 63n) - 1n,
  -(1n << 63n),
  (1n << 53n) + 1n,
  (1n << 31n) - 1n,
];

/** uint64 values worth trying. */
export const extremeUint64: readonly bigint[] = [
  0n,
  1n,
  (1n << 64n) - 1n,
  1n << 63n,
  (1n << 32n) - 1n,
];

/** A length: usually short, sometimes one of {@link boundaryLengths}. */
export function pickLength(rng: FuzzRandom, short = 12): number {
  return rng.chance(0.12) ? rng.pick(boundaryLengths) : rng.int(1, short);
}

/** A text of `length` letters (ASCII, so it is valid UTF-8 whatever its length). */
export function letters(rng: FuzzRandom, length: number): string {
  if (length > 64) return String.fromCharCode(rng.int(97, 122)).repeat(length);
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(rng.int(97, 122));
  return s;
}

/** A user or role name; never `root`, which the runner keeps for itself. */
export function pickName(rng: FuzzRandom): string {
  const length = pickLength(rng, 8);
  return length > 2 && length <= 8 ? `fz${letters(rng, length - 2)}` : letters(rng, length);
}

/** A key under {@link fuzzKeyPrefix} (or empty), of a short or boundary length. */
export function pickKey(rng: FuzzRandom): Buffer {
  const length = pickLength(rng, 6);
  if (length < fuzzKeyPrefix.length) return Buffer.from(letters(rng, length));
  const tail = rng.chance(0.2) ? rng.bytes(length) : Buffer.from(letters(rng, length));
  return Buffer.concat([Buffer.from(fuzzKeyPrefix), tail]).subarray(0, length);
}

/** A range end for `key`: none, the prefix end, "\0" (to the end of the keyspace), or random. */
export function pickRangeEnd(rng: FuzzRandom, key: Buffer): Buffer {
  return rng.weighted<Buffer>([
    [4, Buffer.alloc(0)],
    [2, prefixEnd(key)],
    [1, Buffer.from([0])],
    [1, Buffer.concat([Buffer.from(fuzzKeyPrefix), Buffer.from(letters(rng, rng.int(1, 4)))])],
    [1, pickKey(rng)],
  ]);
}

/** The smallest key greater than every key with this prefix, as etcd's `--prefix` computes it. */
export function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function pickValue(rng: FuzzRandom): Buffer {
  return rng.chance(0.05)
    ? Buffer.alloc(rng.pick(boundaryLengths), 0x76)
    : rng.bytes(rng.int(0, 16));
}

export function pickInt64(rng: FuzzRandom, usual: () => bigint): bigint {
  return rng.chance(0.3) ? rng.pick(extremeInt64) : usual();
}

export function pickUint64(rng: FuzzRandom): bigint {
  return rng.chance(0.5) ? rng.pick(extremeUint64) : rng.uint64();
}

/**
 * A value of a ts-proto enum: usually a defined one, sometimes one past the last, 99, -1 or
 * 2^31-1, which the type allows only because TypeScript enums are open.
 */
export function pickEnum<E extends number>(
  rng: FuzzRandom,
  values: Readonly<Record<string, string | E>>,
): E {
  const defined = Object.values(values).filter((v): v is E => typeof v === 'number' && v >= 0);
  if (!rng.chance(0.15)) return rng.pick(defined);
  const last = Math.max(...defined);
  return rng.pick([last + 1, 99, -1, 0x7fffffff]) as E;
}

/** A peer URL: well-formed, malformed, or with a host of a boundary length. */
export function pickPeerUrl(rng: FuzzRandom): string {
  return rng.weighted<string>([
    [3, `http://127.0.0.1:${rng.int(1, 65535)}`],
    [1, `http://${letters(rng, pickLength(rng, 10))}:2380`],
    [
      1,
      rng.pick([
        '',
        'not a url',
        'http://',
        'ftp://127.0.0.1:1',
        'http://127.0.0.1:1/path',
        'http://[::1]:99999',
      ]),
    ],
  ]);
}
