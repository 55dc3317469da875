import {
  AddWatchMode,
  CreateMode,
  JuteWriter,
  OpCode,
  exchangeRaw,
  fourLetterWord,
  zookeeperSkipReason,
} from '@synod/testing';
import type {ConnectOptions, ZooKeeperClient} from '@synod/testing';
import {describe} from 'vitest';

import {scenario, useServers} from './harness.js';
import type {Story} from './harness.js';

/**
 * Connects, noting either the ConnectResponse and whether the server then closed the
 * connection, or that it closed without any answer.
 */
async function attempt(
  s: Story,
  name: string,
  options: Omit<ConnectOptions, 'host' | 'port'>,
): Promise<ZooKeeperClient | undefined> {
  try {
    const client = await s.connect(name, options);
    s.note(`${name} closed by the server within 1 s`, await client.closedWithin(1000));
    return client;
  } catch {
    s.note(`connect ${name}`, 'closed or silent without a ConnectResponse');
    return undefined;
  }
}

/** Sends raw bytes on a new connection and notes what came back, and the server still serving. */
async function rawProbe(s: Story, step: string, bytes: Buffer, endAfter = false): Promise<void> {
  const result = await exchangeRaw(s.target.host, s.target.port, bytes, {waitMs: 1500, endAfter});
  s.note(step, {
    replied: result.received.length > 0 ? `${result.received.length} bytes` : 'nothing',
    closed: result.closed,
  });
}

/** A session id as the four-letter words print it. */
const hexId = (id: bigint) => `0x${BigInt.asUintN(64, id).toString(16)}`;

/**
 * The blocks of a `wchc`, `wchp` or `dump` section: a line without a tab heads a block, the
 * tabbed lines under it are its entries. Gives `head: entry` for every entry, sorted, as the
 * servers' hash orders differ.
 */
function blockEntries(text: string, keep: (head: string) => boolean): string[] {
  const out: string[] = [];
  let head = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('\t')) {
      if (keep(head)) out.push(`${head}: ${line.slice(1)}`);
    } else head = line.replace(/:$/, '');
  }
  return out.sort();
}

/** A `cons` line with what differs between two servers' runs (ports, times, zxids) masked. */
function maskCons(line: string): string {
  return line
    .replace(/^ \/[^[]+\[/, ' /ADDR[')
    .replace(/est=\d+/, 'est=T')
    .replace(/lresp=[1-9]\d*/, 'lresp=T')
    .replace(/lzxid=0x(?!ffffffffffffffff)[0-9a-f]+/, 'lzxid=Z')
    .replace(/(llat|minlat|avglat|maxlat)=\d+/g, '$1=N');
}

/** The frame of a handshake asking for a new session. */
function handshake(): Buffer {
  return new JuteWriter()
    .int(0)
    .long(0n)
    .int(30_000)
    .long(0n)
    .buffer(Buffer.alloc(16))
    .bool(false)
    .frame();
}

describe.skipIf(zookeeperSkipReason !== undefined)(
  'ZooKeeper sessions, errors and bad input: Synod against ZooKeeper 3.8',
  () => {
    const servers = useServers();

    scenario(
      servers,
      'the session timeout is clamped to 2 to 20 ticks, old clients get no read-only byte',
      async s => {
        await attempt(s, 'short', {sessionTimeoutMs: 100});
        await attempt(s, 'long', {sessionTimeoutMs: 3_600_000});
        await attempt(s, 'middle', {sessionTimeoutMs: 10_000});
        await attempt(s, 'old client', {omitReadOnlyByte: true});
        await attempt(s, 'read-only client', {readOnly: true});
      },
    );

    scenario(
      servers,
      'a session resumed on a new connection keeps its ephemerals; a wrong password does not',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.create2(s.path('/mine'), '', CreateMode.ephemeral);
        a.disconnect();
        await attempt(s, 'a with a wrong password', {
          sessionId: a.session.sessionId,
          password: Buffer.alloc(16, 7),
        });
        const again = await attempt(s, 'a', {
          sessionId: a.session.sessionId,
          password: a.session.password,
        });
        await again?.exists(s.path('/mine'));
        await again?.close();
        await attempt(s, 'a after close', {
          sessionId: a.session.sessionId,
          password: a.session.password,
        });
        const b = await s.connect('b');
        await b.exists(s.path('/mine'));
      },
    );

    scenario(servers, 'a client that has seen a zxid ahead of the server is refused', async s => {
      await attempt(s, 'from the future', {lastZxidSeen: 1n << 50n});
    });

    scenario(
      servers,
      'error codes without a node: AuthFailed, Unimplemented, ReconfigDisabled, BadArguments',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.reconfig();
        await a.sendRaw(new JuteWriter().int(77).int(9999).string('/').frame(), 77);
        await a.getData(s.path());
        await a.sendRaw(
          new JuteWriter().int(78).int(OpCode.deleteContainer).string('/').frame(),
          78,
        );
        await a.getData(s.path());
        const b = await s.connect('b');
        await b.auth('no-such-scheme', 'x');
        await b.getData(s.path());
        s.note('b closed by the server within 1 s', await b.closedWithin(1000));
      },
    );

    scenario(
      servers,
      'bad paths: no leading slash, empty, //, trailing slash, . and .., a NUL',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        for (const path of [
          'no-slash',
          '',
          `${s.path()}//x`,
          `${s.path()}/`,
          `${s.path()}/./x`,
          `${s.path()}/../x`,
          `${s.path()}/a\u0000b`,
        ]) {
          await a.create(path, '');
          await a.getData(path);
          await a.setData(path, 'x');
          await a.delete(path);
          await a.getChildren(path);
        }
        await a.create(`${s.path()}/seq/`, '', CreateMode.persistentSequential);
        await a.getChildren(s.path());
      },
    );

    scenario(
      servers,
      'packets too long, of negative length, truncated: the connection closes, the server serves',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        const big = Buffer.alloc(1024 * 1024 + 10, 'x');
        await a.setData(s.path(), big);
        s.note('a closed by the server within 1 s', await a.closedWithin(1000));
        const b = await s.connect('b');
        await b.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xf0]), 1);
        s.note('b closed by the server within 1 s', await b.closedWithin(1000));
        const c = await s.connect('c');
        // A getData whose path length runs past the end of its frame.
        const short = new JuteWriter()
          .int(1)
          .int(OpCode.getData)
          .int(100)
          .raw(Buffer.from('/x'))
          .frame();
        await c.sendRaw(short, 1);
        s.note('c closed by the server within 1 s', await c.closedWithin(1000));
        const d = await s.connect('d');
        await d.getData(s.path());
        await d.getData(s.path(), false);
      },
    );

    scenario(
      servers,
      'raw connections: a request before the handshake, a handshake cut short, a length lie',
      async s => {
        const getData = new JuteWriter().int(1).int(OpCode.getData).string('/').bool(false).frame();
        await rawProbe(s, 'a getData as the first packet', getData);
        await rawProbe(
          s,
          'half a handshake, then the client hangs up',
          handshake().subarray(0, 20),
          true,
        );
        const lie = Buffer.concat([Buffer.from([0, 0, 0x10, 0]), Buffer.alloc(64)]);
        await rawProbe(s, 'a length of 4096 with 64 bytes, then the client hangs up', lie, true);
        await rawProbe(s, 'a length over 1 MiB', Buffer.from([0x00, 0x20, 0x00, 0x00, 1, 2, 3]));
        await rawProbe(s, 'a negative length', Buffer.from([0x80, 0, 0, 0]));
        await rawProbe(s, 'a handshake', handshake());
        const after = await s.connect('after');
        await after.exists('/');
      },
    );

    scenario(
      servers,
      'four-letter words about sessions: dump, wchc, wchp and wchs list the same sessions, ephemerals and data watches; crst, cons, srst, gtmk and stmk as ZooKeeper',
      async s => {
        const {host, port} = s.target;
        // No pings: the connection figures below count only the scenario's own requests.
        const a = await s.connect('a', {keepAlive: false});
        const b = await s.connect('b', {keepAlive: false});
        const name = new Map([
          [hexId(a.session.sessionId), 'a'],
          [hexId(b.session.sessionId), 'b'],
        ]);
        const named = (text: string) => text.replace(/0x[0-9a-f]+/g, id => name.get(id) ?? id);
        await a.create(s.path(), 'x');
        await a.create(s.path('/e1'), '', CreateMode.ephemeral);
        await b.create(s.path('/e2'), '', CreateMode.ephemeral);
        await a.getData(s.path(), true);
        await a.getChildren(s.path(), true);
        await b.exists(s.path('/e1'), true);
        await b.exists(s.path('/nope'), true);
        await b.addWatch(s.path('/p'), AddWatchMode.persistent);
        const ours = (head: string) => head === 'a' || head === 'b' || head.startsWith(s.path());
        const word = (w: string) => fourLetterWord(host, port, w);
        s.note('wchs', await word('wchs'));
        s.note('wchc', blockEntries(named(await word('wchc')), ours));
        s.note('wchp', blockEntries(named(await word('wchp')), ours));
        const dump = named(await word('dump'));
        s.note(
          'dump sections',
          dump
            .split('\n')
            .filter(line => /^[A-Za-z]/.test(line) && !/ expire at |^[ab]:$/.test(line))
            .map(line => line.replace(/\d+/g, 'n')),
        );
        s.note(
          'dump: sessions and ephemerals',
          blockEntries(dump, head => /^[ab]$/.test(head)),
        );
        s.note('dump: connections', dump.match(/sessionId: [ab]$/gm)?.sort());
        s.note('crst', await word('crst'));
        const consOf = async () => {
          const lines = named(await word('cons')).split('\n');
          return {
            a: maskCons(lines.find(line => line.includes('sid=a,')) ?? ''),
            sessionless: lines
              .filter(line => line.includes('recved') && !line.includes('sid='))
              .map(maskCons),
          };
        };
        s.note('cons after crst', await consOf());
        await a.exists(s.path());
        s.note('cons after a request', await consOf());
        s.note('srst', await word('srst'));
        const srvr = (await word('srvr')).split('\n');
        s.note(
          'srvr after srst counts from zero (a few packets, not those before)',
          srvr
            .filter(line => /^(Received|Sent):/.test(line))
            .map(line => Number(line.split(': ')[1]) <= 3),
        );
        s.note('gtmk', await word('gtmk'));
        const stmk = (mask: bigint) => {
          const bytes = Buffer.alloc(12);
          bytes.write('stmk', 'latin1');
          bytes.writeBigInt64BE(mask, 4);
          return exchangeRaw(host, port, bytes, {waitMs: 1000});
        };
        s.note('stmk 511', (await stmk(511n)).received.toString('latin1'));
        s.note('gtmk after stmk', await word('gtmk'));
        await stmk(306n);
        s.note('dirs fields', (await word('dirs')).replace(/\d+/g, 'n'));
      },
    );

    scenario(
      servers,
      'four-letter words: ruok and isro answer as ZooKeeper does; srvr, mntr, envi, conf, cons, wchs name the same fields',
      async s => {
        const {host, port} = s.target;
        for (const word of ['ruok', 'isro']) {
          s.note(word, await fourLetterWord(host, port, word));
        }
        for (const word of ['srvr', 'stat', 'mntr', 'envi', 'conf', 'wchs']) {
          const answer = await fourLetterWord(host, port, word);
          // Values are each server's own (versions, counters, paths): the field names are not.
          const fields = answer
            .split('\n')
            .map(line => /^([A-Za-z_. ]+?)\s*(?:[:=\t]|$)/.exec(line)?.[1] ?? '')
            .filter(name => name !== '');
          s.note(word, [...new Set(fields)].sort());
        }
      },
    );
  },
);
