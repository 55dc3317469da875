import type {KvInput} from './checkers/kv-model.js';

/**
 * KvCommand is what a client operation becomes in the replicated log: the request plus the
 * operation id that lets the proposing member find its waiting client when the entry applies,
 * and lets the checkers prove every operation is applied at most once.
 */
export interface KvCommand {
  readonly opId: number;
  readonly clientId: number;
  readonly input: KvInput;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** encodeKvCommand serialises a command for an entry's data (JSON: easy to read in traces). */
export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

/** decodeKvCommand parses an entry's data; throws on data that is not a command. */
export function decodeKvCommand(data: Uint8Array): KvCommand {
  const parsed = JSON.parse(decoder.decode(data)) as unknown;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('opId' in parsed) ||
    typeof parsed.opId !== 'number' ||
    !('input' in parsed)
  ) {
    throw new Error(`entry data is not a kv command: ${decoder.decode(data)}`);
  }
  return parsed as KvCommand;
}
