import type {Prng} from './prng.js';
import type {SimClock} from './sim-clock.js';

/** What the network needs to know about a message: who sends it and who receives it. */
export interface Addressed {
  readonly from: number;
  readonly to: number;
}

/** Fault and latency knobs of a {@link SimNetwork}. Probabilities are per message. */
export interface SimNetworkOptions {
  /** Every message takes at least this long. */
  readonly delayMsMin: number;
  /** Mean of the exponential delay added on top of the minimum. */
  readonly delayMsMean: number;
  readonly dropProbability: number;
  /** A duplicated message is delivered twice, each copy with its own delay. */
  readonly duplicateProbability: number;
  /**
   * A reordered message gets an extra delay of up to `reorderDelayMsMax`, so later messages on
   * the same link overtake it.
   */
  readonly reorderProbability: number;
  readonly reorderDelayMsMax: number;
}

/** Counters for the run summary. */
export interface SimNetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  /** Lost to a cut link (at send or delivery time) or to a receiver that was down. */
  cut: number;
  duplicated: number;
  reordered: number;
}

/** A network that delivers nothing in under a millisecond and loses nothing. */
export const reliableNetwork: SimNetworkOptions = {
  delayMsMin: 1,
  delayMsMean: 1,
  dropProbability: 0,
  duplicateProbability: 0,
  reorderProbability: 0,
  reorderDelayMsMax: 0,
};

/**
 * SimNetwork carries messages between numbered nodes over virtual time, with per-message delay
 * (`delayMsMin + Exp(delayMsMean)`), drops, duplicates, reordering and partitions. A partition
 * cuts directed links, so one-way (asymmetric) cuts are expressible; a message is lost if its
 * link is cut when it is sent or when it would arrive.
 *
 * `deliver` returns false when the receiver is down (the message is lost like a cut one).
 * The payload is handed to `deliver` as is: if receivers may keep references, pass a `copy`
 * that clones or re-encodes it, as a real wire would.
 */
export class SimNetwork<M extends Addressed> {
  private options: SimNetworkOptions;
  /**
   * The cut directed links: the receivers cut off from each sender. Keyed by ids as they are,
   * since real members' ids use up to 53 bits and leave no room to pack a pair in one number.
   */
  private readonly blocked = new Map<number, Set<number>>();
  readonly stats: SimNetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    cut: 0,
    duplicated: 0,
    reordered: 0,
  };

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
    options: SimNetworkOptions,
    private readonly deliver: (msg: M) => boolean,
    private readonly copy: (msg: M) => M = m => m,
  ) {
    this.options = options;
  }

  /** setOptions swaps the fault knobs, e.g. to a reliable network for a liveness phase. */
  setOptions(options: SimNetworkOptions): void {
    this.options = options;
  }

  get currentOptions(): SimNetworkOptions {
    return this.options;
  }

  /**
   * send puts a message in flight. `onOutcome`, if given, learns whether the (first copy of the)
   * message arrived, at the time it would have: how a transport reports a snapshot's fate.
   */
  send(msg: M, onOutcome?: (delivered: boolean) => void): void {
    const o = this.options;
    this.stats.sent++;
    if (this.isCut(msg.from, msg.to)) {
      this.stats.cut++;
      if (onOutcome !== undefined)
        this.clock.schedule(o.delayMsMin, () => {
          onOutcome(false);
        });
      return;
    }
    if (this.prng.chance(o.dropProbability)) {
      this.stats.dropped++;
      if (onOutcome !== undefined)
        this.clock.schedule(o.delayMsMin, () => {
          onOutcome(false);
        });
      return;
    }
    this.enqueue(msg, onOutcome);
    if (this.prng.chance(o.duplicateProbability)) {
      this.stats.duplicated++;
      this.enqueue(msg, undefined);
    }
  }

  private enqueue(msg: M, onOutcome: ((delivered: boolean) => void) | undefined): void {
    const o = this.options;
    let delayMs = o.delayMsMin + Math.round(this.prng.exponential(o.delayMsMean));
    if (this.prng.chance(o.reorderProbability)) {
      this.stats.reordered++;
      delayMs += this.prng.intBetween(1, Math.max(1, o.reorderDelayMsMax));
    }
    const wire = this.copy(msg);
    this.clock.schedule(
      delayMs,
      () => {
        if (this.isCut(wire.from, wire.to)) {
          this.stats.cut++;
          onOutcome?.(false);
          return;
        }
        const accepted = this.deliver(wire);
        if (accepted) this.stats.delivered++;
        else this.stats.cut++;
        onOutcome?.(accepted);
      },
      'net',
    );
  }

  /** isCut reports whether messages from `from` to `to` are currently lost. */
  isCut(from: number, to: number): boolean {
    return this.blocked.size > 0 && this.blocked.get(from)?.has(to) === true;
  }

  /** cutOneWay loses messages from `from` to `to` while the reverse direction still works. */
  cutOneWay(from: number, to: number): void {
    const cut = this.blocked.get(from);
    if (cut === undefined) this.blocked.set(from, new Set([to]));
    else cut.add(to);
  }

  /** cut loses messages between `a` and `b` in both directions. */
  cut(a: number, b: number): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** partition splits the nodes into groups that cannot talk to each other (symmetric). */
  partition(groups: readonly (readonly number[])[]): void {
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g] ?? []) {
          for (const b of groups[h] ?? []) this.cutOneWay(a, b);
        }
      }
    }
  }

  /** isolate cuts `id` off from every other node in `all`, both ways. */
  isolate(id: number, all: readonly number[]): void {
    for (const other of all) {
      if (other !== id) this.cut(id, other);
    }
  }

  /**
   * randomSplit partitions `all` into two non-empty random groups and returns them. With
   * `oneWay`, only messages from the first group to the second are lost.
   */
  randomSplit(all: readonly number[], oneWay = false): [number[], number[]] {
    const shuffled = this.prng.shuffle([...all]);
    const size = this.prng.intBetween(1, Math.max(1, shuffled.length - 1));
    const a = shuffled.slice(0, size);
    const b = shuffled.slice(size);
    if (oneWay) {
      for (const x of a) for (const y of b) this.cutOneWay(x, y);
    } else {
      this.partition([a, b]);
    }
    return [a, b];
  }

  /** heal restores every link. Messages already lost stay lost. */
  heal(): void {
    this.blocked.clear();
  }

  /** cutLinks lists the cut directed links as `[from, to]` pairs, for traces. */
  cutLinks(): [number, number][] {
    return [...this.blocked].flatMap(([from, to]) =>
      [...to].map((t): [number, number] => [from, t]),
    );
  }
}
