/**
 * How `/zookeeper/config` is compared between a ZooKeeper ensemble and a Synod cluster. What
 * legitimately differs:
 * - server ids: ZooKeeper's are 1..n from `zoo.cfg`, Synod's are its member ids; each line is
 *   named by the server whose client address it gives (`<client #i>`, the index of that address
 *   in the cluster's list), and the lines are put in that order;
 * - the quorum and election ports: they become `<port>` and `<election port>`; Synod's members
 *   elect over their peer port and write the election port as 0 ({@link electionPortZero});
 * - the version: 0 on an ensemble configured statically, on Synod the raft index of the last
 *   membership change; it becomes `<hex>` once checked to be hex.
 * Everything else (host, the participant/observer type, the client address, the separators,
 * no newline after the version) must be the same.
 */
export function normalisedConfig(data: string, clientAddresses: readonly string[]): string {
  const lines = data.split('\n');
  const version = lines.pop() ?? '';
  const servers = lines.map(line => {
    const m = /^server\.(\d+)=([^:;]+):(\d+):(\d+)(:participant|:observer)?(;(.*))?$/.exec(line);
    if (m === null) return {rank: -1, text: `unparsed: ${line}`};
    const [, , host = '', , , type = '', , client] = m;
    const rank = client === undefined ? clientAddresses.length : clientAddresses.indexOf(client);
    const named = client === undefined ? '' : `;<client #${rank === -1 ? client : rank}>`;
    return {rank, text: `server.<id>=${host}:<port>:<election port>${type}${named}`};
  });
  servers.sort((a, b) => a.rank - b.rank);
  const hex = /^version=[0-9a-f]+$/.test(version) ? 'version=<hex>' : `unparsed: ${version}`;
  return [...servers.map(s => s.text), hex].join('\n');
}

/** Synod's server lines give its peer port and no election port: `host:P:0`. */
export function electionPortZero(data: string): boolean {
  const servers = data.split('\n').filter(line => line.startsWith('server.'));
  return servers.length > 0 && servers.every(line => /^server\.\d+=[^:;]+:\d+:0(:|;|$)/.test(line));
}
