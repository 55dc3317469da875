/**
 * `@synod/simulator`: a deterministic cluster simulator (seeded PRNG, virtual clock, faulty
 * network and disks) that drives the Raft core, with invariant and linearizability checkers.
 * Imported only by tests and tools.
 */
export {InvariantChecker} from './checkers/invariant-checker.js';
export type {CheckedNode, CheckerToggles} from './checkers/invariant-checker.js';
export {InvariantViolation} from './checkers/invariant-violation.js';
export type {InvariantName} from './checkers/invariant-violation.js';
export {kvModel} from './checkers/kv-model.js';
export type {KvInput, KvOperation, KvOutput} from './checkers/kv-model.js';
export {checkLinearizability} from './checkers/linearizability.js';
export type {
  LinearizabilityOptions,
  LinearizabilityResult,
  LinearizabilityVerdict,
  Model,
  Operation,
} from './checkers/linearizability.js';
export {EventQueue} from './event-queue.js';
export type {QueuedEvent} from './event-queue.js';
export {decodeKvCommand, encodeKvCommand} from './kv-command.js';
export type {KvCommand} from './kv-command.js';
export {KvStateMachine} from './kv-state-machine.js';
export {Prng} from './prng.js';
export {runSimulation} from './run-simulation.js';
export type {SimFailure, SimPhase, SimResult} from './run-simulation.js';
export {SimClock} from './sim-clock.js';
export type {TimerHandle} from './sim-clock.js';
export {SimCluster} from './sim-cluster.js';
export type {SimStats} from './sim-cluster.js';
export {reliableNetwork, SimNetwork} from './sim-network.js';
export type {Addressed, SimNetworkOptions, SimNetworkStats} from './sim-network.js';
export {SimDisk} from './sim-disk.js';
export {SimMemberClock} from './sim-member-clock.js';
export {simRandomSource} from './sim-random-source.js';
export type {DiskWrite} from './sim-disk.js';
export {SimNode} from './sim-node.js';
export type {NodeReply, PendingRequest, SimNodeStatus} from './sim-node.js';
export {noFaults, swarmOptions} from './sim-options.js';
export type {FaultOptions, InjectedBugs, SimOptions, SimOverrides} from './sim-options.js';
export {describeFailure, SimulationFailure} from './simulation-failure.js';
export {memberSwarmOptions} from './member/member-sim-options.js';
export type {MemberSimOptions, MemberSimOverrides} from './member/member-sim-options.js';
export {describeMemberFailure, runMemberSimulation} from './member/run-member-simulation.js';
export type {MemberSimFailure, MemberSimResult} from './member/run-member-simulation.js';
export {SimMemberCluster} from './member/sim-member-cluster.js';
export type {SimMemberSettings} from './member/sim-member-cluster.js';
export {SimMemberStorage} from './member/sim-member-storage.js';
