import {describe, expect, it} from 'vitest';

import {parsePrometheusText} from './prometheus-text.js';
import {zkFiguresOf} from './zk-figures.js';

describe("the ZooKeeper view's figures", () => {
  it('are read from the synod_zk_* samples, in the order shown, with their mntr names', () => {
    const samples = parsePrometheusText(
      [
        '# TYPE synod_zk_znode_count gauge',
        'synod_zk_znode_count 7',
        'synod_zk_alive_connections 2',
        'synod_zk_approximate_data_size_bytes 120',
        'synod_zk_packets_sent_total 31',
        'etcd_server_has_leader 1',
      ].join('\n'),
    );
    expect(zkFiguresOf(samples)).toEqual([
      {label: 'Open connections on this member', mntr: 'zk_num_alive_connections', value: 2},
      {label: 'Znodes', mntr: 'zk_znode_count', value: 7},
      {
        label: 'Approximate data size',
        mntr: 'zk_approximate_data_size',
        value: 120,
        unit: 'bytes',
      },
      {label: 'Packets sent', mntr: 'zk_packets_sent', value: 31},
    ]);
  });

  it('are none for a member without a ZooKeeper port', () => {
    expect(zkFiguresOf(parsePrometheusText('etcd_server_has_leader 1\n'))).toEqual([]);
  });
});
