/**
 * Prints the listing of every znode a ZooKeeper server serves (see `zkListing` in
 * tools/testing/zookeeper-listing.ts): path, data, ACL, versions, times and zxid order, one
 * line per node. A migration from ZooKeeper to Synod is verified with `diff`:
 *
 *   npm run -s zk:listing -- 127.0.0.1:2181 --auth digest:super:secret > zookeeper.txt
 *   npm run -s zk:listing -- 127.0.0.1:2182 --auth digest:super:secret > synod.txt
 *   diff zookeeper.txt synod.txt
 *
 * `--auth scheme:credentials` is an addauth made first (as often as needed).
 */
import {pathToFileURL} from 'node:url';

import {zkListing} from '@synod/testing';

async function main(argv: readonly string[]): Promise<void> {
  const auth: string[] = [];
  let address: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--auth') auth.push(argv[++i] ?? '');
    else if (address === undefined && !arg.startsWith('-')) address = arg;
    else throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (address === undefined) {
    throw new Error('usage: zk-listing <host:port> [--auth scheme:credentials]...');
  }
  const colon = address.lastIndexOf(':');
  const lines = await zkListing({
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    auth,
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`zk-listing: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
