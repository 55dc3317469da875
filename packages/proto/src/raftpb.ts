/**
 * Synod's Raft protocol types, on their own entry point so that the consensus
 * core can use them without loading gRPC.
 */
export {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  Snapshot,
  SnapshotMetadata,
} from './gen/raftpb/raft.js';
