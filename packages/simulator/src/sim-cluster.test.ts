import {describe, expect, it} from 'vitest';
import {encodeKvCommand} from './kv-command.js';
import {runSimulation} from './run-simulation.js';
import {SimCluster} from './sim-cluster.js';
import {reliableNetwork} from './sim-network.js';
import type {SimNode} from './sim-node.js';
import {noFaults, swarmOptions} from './sim-options.js';
import type {SimOverrides} from './sim-options.js';

const calm: SimOverrides = {
  nodes: 3,
  network: reliableNetwork,
  faults: noFaults,
  reportLoss: true,
  crashAllAtHeal: false,
  clients: 0,
};

function electedCluster(overrides: SimOverrides = {}): {cluster: SimCluster; leader: SimNode} {
  const cluster = new SimCluster(swarmOptions(1, {...calm, ...overrides}));
  cluster.clock.runUntil(600);
  const leader = cluster.leader();
  if (leader === undefined) throw new Error('no leader elected in 600ms without faults');
  return {cluster, leader};
}

function put(opId: number): Uint8Array {
  return encodeKvCommand({opId, clientId: 1, input: {kind: 'put', key: 'k0', value: `v${opId}`}});
}

describe('SimCluster', () => {
  it('commits every client operation when nothing fails', () => {
    const result = runSimulation(swarmOptions(2, {...calm, clients: 3}));
    expect(result.failure).toBeUndefined();
    expect(result.stats.opsAcked).toBeGreaterThan(50);
    expect(result.stats.opsIndeterminate).toBe(0);
    expect(result.linearizability).toBe('ok');
    expect(result.leaderTerms).toBe(1);
  });

  it('loses what raft held in memory when a member crashes before writing its Ready', () => {
    const {cluster, leader} = electedCluster();
    const durable = leader.storage.lastIndex();
    leader.raw?.propose(put(1));
    leader.raw?.propose(put(2));
    expect(leader.raw?.raft.raftLog.lastIndex()).toBe(durable + 2);
    cluster.crash(leader);
    expect(leader.raw).toBeUndefined();
    expect(leader.storage.lastIndex()).toBe(durable);
    cluster.restart(leader);
    expect(leader.raw?.raft.raftLog.lastIndex()).toBe(durable);
  });

  it('keeps only a prefix of the batch on a torn write, then catches up after restart', () => {
    const {cluster, leader} = electedCluster();
    const follower = [...cluster.nodes.values()].find(n => n !== leader);
    if (follower === undefined) throw new Error('no follower');
    follower.tornWriteArmed = true;
    for (let i = 1; i <= 5; i++) leader.raw?.propose(put(i));
    cluster.clock.runUntil(cluster.clock.nowMs + 50);
    expect(cluster.stats.tornWrites).toBe(1);
    expect(follower.status).toBe('down');
    const leaderLast = leader.storage.lastIndex();
    expect(follower.storage.lastIndex()).toBeLessThan(leaderLast);
    cluster.restart(follower);
    cluster.clock.runUntil(cluster.clock.nowMs + 300);
    expect(follower.storage.lastIndex()).toBe(leader.storage.lastIndex());
    expect(follower.appliedIndex).toBe(leader.appliedIndex);
  });

  it('queues messages for a paused member and delivers them when it resumes', () => {
    const {cluster, leader} = electedCluster();
    const follower = [...cluster.nodes.values()].find(n => n !== leader);
    if (follower === undefined) throw new Error('no follower');
    cluster.pause(follower);
    leader.raw?.propose(put(1));
    cluster.clock.runUntil(cluster.clock.nowMs + 300);
    expect(follower.inbox.length).toBeGreaterThan(0);
    const applied = follower.appliedIndex;
    expect(applied).toBeLessThan(leader.appliedIndex);
    cluster.resume(follower);
    cluster.clock.runUntil(cluster.clock.nowMs + 100);
    expect(follower.inbox).toHaveLength(0);
    expect(follower.appliedIndex).toBe(leader.appliedIndex);
  });

  it('adds a learner, promotes it and removes a voter, one change at a time', () => {
    let added = 0;
    let promoted = 0;
    let removed = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const result = runSimulation(
        swarmOptions(seed, {...calm, clients: 2, faults: {...noFaults, membership: 0.6}}),
      );
      expect(result.failure).toBeUndefined();
      added += result.trace.filter(l => l.includes('applied ConfChangeAddLearnerNode')).length;
      promoted += result.trace.filter(l => l.includes('applied ConfChangeAddNode')).length;
      removed += result.trace.filter(l => l.includes('applied ConfChangeRemoveNode')).length;
    }
    expect(added).toBeGreaterThan(0);
    expect(promoted).toBeGreaterThan(0);
    expect(removed).toBeGreaterThan(0);
  });

  it('recovers every acknowledged write after the whole cluster is killed at once', () => {
    const result = runSimulation(swarmOptions(3, {...calm, clients: 3, crashAllAtHeal: true}));
    expect(result.failure).toBeUndefined();
    expect(result.trace.some(l => l.includes('crash (whole cluster, at heal)'))).toBe(true);
    expect(result.linearizability).toBe('ok');
    // The liveness client (the last one) read every key back through the log after the restart.
    const finalReads = result.history.filter(
      op => op.clientId === result.options.clients + 1 && op.input.kind === 'get',
    );
    expect(finalReads).toHaveLength(result.options.keys);
    expect(finalReads.every(op => op.output !== undefined)).toBe(true);
  });
});
