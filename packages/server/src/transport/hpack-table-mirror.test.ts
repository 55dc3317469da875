import {describe, expect, it} from 'vitest';

import {HpackError} from './hpack-cursor.js';
import {HpackTableMirror} from './hpack-table-mirror.js';

/** An entry the server was given unchanged. */
function same(name: string, value: string) {
  return {
    name: Buffer.from(name),
    clientValue: Buffer.from(value),
    serverValue: Buffer.from(value),
  };
}

/** An entry whose value the server was given rewritten. */
function rewritten(name: string, clientValue: string, serverValue: string) {
  return {
    name: Buffer.from(name),
    clientValue: Buffer.from(clientValue),
    serverValue: Buffer.from(serverValue),
  };
}

function namesHeld(mirror: HpackTableMirror, upTo: number): {client: string[]; server: number[]} {
  const client: string[] = [];
  const server: number[] = [];
  for (let index = 1; index <= upTo; index++) {
    try {
      client.push(mirror.entry(index).name.toString());
    } catch {
      // Past the client's table.
    }
    if (mirror.serverHolds(index)) server.push(index);
  }
  return {client, server};
}

describe('HPACK dynamic tables of a client and of a server given rewritten values', () => {
  it('numbers entries from the newest, as RFC 7541 C.3 fills the table', () => {
    const mirror = new HpackTableMirror();
    mirror.insert(same(':authority', 'www.example.com'));
    mirror.insert(same('cache-control', 'no-cache'));
    mirror.insert(same('custom-key', 'custom-value'));
    expect(namesHeld(mirror, 4)).toEqual({
      client: ['custom-key', 'cache-control', ':authority'],
      server: [1, 2, 3],
    });
  });

  it('evicts the oldest entries once the sizes pass the maximum, on both sides alike', () => {
    const mirror = new HpackTableMirror();
    mirror.resize(110);
    mirror.insert(same('a', 'x'.repeat(20))); // 53 bytes
    mirror.insert(same('b', 'y'.repeat(20))); // 53, 106 in all
    mirror.insert(same('c', 'z')); // 34: 'a' goes
    expect(namesHeld(mirror, 3)).toEqual({client: ['c', 'b'], server: [1, 2]});
  });

  it('evicts on a size update, and a size of 0 empties both tables', () => {
    const mirror = new HpackTableMirror();
    mirror.insert(same('a', 'x'));
    mirror.insert(same('b', 'y'));
    mirror.resize(40);
    expect(namesHeld(mirror, 2)).toEqual({client: ['b'], server: [1]});
    mirror.resize(0);
    expect(namesHeld(mirror, 2)).toEqual({client: [], server: []});
    mirror.resize(4096);
    mirror.insert(same('c', 'z'));
    expect(namesHeld(mirror, 2)).toEqual({client: ['c'], server: [1]});
  });

  it('lets the server evict an entry early when its copy is larger', () => {
    const mirror = new HpackTableMirror();
    mirror.resize(100);
    mirror.insert(rewritten('a', 'x', 'xy')); // 34 for the client, 35 for the server
    mirror.insert(same('b', 'v'.repeat(33))); // 66: 100 and 101 in all
    expect(namesHeld(mirror, 2)).toEqual({client: ['b', 'a'], server: [1]});
    expect(mirror.entry(2).serverValue.toString()).toBe('xy');
  });

  it('lets the server keep an entry longer when its copy is smaller', () => {
    const mirror = new HpackTableMirror();
    mirror.resize(100);
    mirror.insert(rewritten('a', 'xy', 'x')); // 35 for the client, 34 for the server
    mirror.insert(same('b', 'v'.repeat(33)));
    expect(namesHeld(mirror, 2)).toEqual({client: ['b'], server: [1, 2]});
    mirror.insert(same('c', 'w'));
    // Both evicted the oldest entries they had to; the indices they share still agree.
    expect(namesHeld(mirror, 3)).toEqual({client: ['c', 'b'], server: [1, 2]});
  });

  it('empties a table for an entry larger than it, and does not hold that entry', () => {
    const mirror = new HpackTableMirror();
    mirror.resize(50);
    mirror.insert(same('a', 'x'));
    mirror.insert(same('big', 'v'.repeat(20)));
    expect(namesHeld(mirror, 2)).toEqual({client: [], server: []});
    mirror.insert(same('b', 'y'));
    expect(namesHeld(mirror, 2)).toEqual({client: ['b'], server: [1]});
  });

  it('refuses an index the client never filled', () => {
    const mirror = new HpackTableMirror();
    mirror.insert(same('a', 'x'));
    expect(() => mirror.entry(2)).toThrow(HpackError);
    expect(() => mirror.entry(0)).toThrow(HpackError);
  });
});
