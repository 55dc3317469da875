import type {KvInput, KvOutput} from './checkers/kv-model.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * KvStateMachine is the replicated application: a map of string registers that applies
 * committed commands in log order. Its snapshot is the map plus the index it covers.
 */
export class KvStateMachine {
  private readonly data: Map<string, string>;

  constructor(entries: Iterable<[string, string]> = []) {
    this.data = new Map(entries);
  }

  /** restore rebuilds a state machine from {@link KvStateMachine.snapshot} output. */
  static restore(snapshot: Uint8Array): KvStateMachine {
    if (snapshot.length === 0) return new KvStateMachine();
    const parsed = JSON.parse(decoder.decode(snapshot)) as [string, string][];
    return new KvStateMachine(parsed);
  }

  /** apply executes one command and returns what the client is told. */
  apply(input: KvInput): KvOutput {
    switch (input.kind) {
      case 'put':
        this.data.set(input.key, input.value);
        return {kind: 'put'};
      case 'get':
        return {kind: 'get', value: this.data.get(input.key)};
      case 'cas': {
        const ok = this.data.get(input.key) === input.expected;
        if (ok) this.data.set(input.key, input.value);
        return {kind: 'cas', ok};
      }
    }
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** snapshot serialises the whole map, keys in sorted order so equal maps give equal bytes. */
  snapshot(): Uint8Array {
    const sorted = [...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(sorted));
  }
}
