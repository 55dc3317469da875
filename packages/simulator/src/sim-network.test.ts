import {describe, expect, it} from 'vitest';
import {Prng} from './prng.js';
import {SimClock} from './sim-clock.js';
import {reliableNetwork, SimNetwork} from './sim-network.js';
import type {SimNetworkOptions} from './sim-network.js';

interface Msg {
  from: number;
  to: number;
  n: number;
}

function setup(options: Partial<SimNetworkOptions> = {}) {
  const clock = new SimClock();
  const got: {m: Msg; at: number}[] = [];
  const net = new SimNetwork<Msg>(clock, new Prng(1), {...reliableNetwork, ...options}, m => {
    got.push({m, at: clock.nowMs});
    return true;
  });
  return {clock, net, got};
}

describe('SimNetwork', () => {
  it('delivers every message after at least the minimum delay', () => {
    const {clock, net, got} = setup({delayMsMin: 3, delayMsMean: 4});
    for (let n = 0; n < 100; n++) net.send({from: 1, to: 2, n});
    clock.runUntil(10_000);
    expect(got).toHaveLength(100);
    expect(got.every(g => g.at >= 3)).toBe(true);
  });

  it('drops, duplicates and reorders at the configured rates', () => {
    const {clock, net, got} = setup({
      dropProbability: 0.2,
      duplicateProbability: 0.2,
      reorderProbability: 0.3,
      reorderDelayMsMax: 50,
    });
    for (let n = 0; n < 1000; n++) net.send({from: 1, to: 2, n});
    clock.runUntil(10_000);
    expect(net.stats.dropped).toBeGreaterThan(150);
    expect(net.stats.duplicated).toBeGreaterThan(100);
    const order = got.map(g => g.m.n);
    const inversions = order.filter((n, i) => i > 0 && n < (order[i - 1] ?? 0)).length;
    expect(inversions).toBeGreaterThan(0);
    expect(got.length).toBe(1000 - net.stats.dropped + net.stats.duplicated);
  });

  it('cuts one direction only with a one-way partition, and heals', () => {
    const {clock, net, got} = setup();
    net.cutOneWay(1, 2);
    net.send({from: 1, to: 2, n: 1});
    net.send({from: 2, to: 1, n: 2});
    clock.runUntil(100);
    expect(got.map(g => g.m.n)).toEqual([2]);
    net.heal();
    net.send({from: 1, to: 2, n: 3});
    clock.runUntil(200);
    expect(got.map(g => g.m.n)).toEqual([2, 3]);
  });

  it('loses messages in flight when a partition starts before they arrive', () => {
    const {clock, net, got} = setup({delayMsMin: 10, delayMsMean: 0});
    let outcome: boolean | undefined;
    net.send({from: 1, to: 2, n: 1}, delivered => {
      outcome = delivered;
    });
    net.isolate(2, [1, 2, 3]);
    clock.runUntil(100);
    expect(got).toHaveLength(0);
    expect(outcome).toBe(false);
  });

  it('splits nodes into two groups that cannot talk', () => {
    const {clock, net, got} = setup();
    const [a, b] = net.randomSplit([1, 2, 3, 4, 5]);
    expect(a.length + b.length).toBe(5);
    for (const x of a) for (const y of b) expect(net.isCut(x, y) && net.isCut(y, x)).toBe(true);
    net.send({from: a[0] ?? 0, to: b[0] ?? 0, n: 1});
    clock.runUntil(100);
    expect(got).toHaveLength(0);
  });
});
