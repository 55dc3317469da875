/**
 * A service instance that registers itself, and stays registered while it runs.
 *
 *   node --conditions=@synod/source --import tsx examples/service-registration.ts [port]
 *
 * It serves HTTP on the port (8080 by default) and registers `services/greeter/<host:port>`
 * with its address as JSON metadata, on a 5 s lease. Ctrl-C deregisters it at once; a
 * crash (kill -9) removes it after the TTL. Run examples/service-discovery.ts to watch.
 */
import {createServer} from 'node:http';

import {createClient} from '@synod/client';
import {ServiceRegistry} from '@synod/recipes';

const port = Number(process.argv[2] ?? '8080');
const endpoints = (process.env.ETCD_ENDPOINTS ?? '127.0.0.1:2379').split(',');
const client = createClient({endpoints});
const registry = new ServiceRegistry(client, {ttlSec: 5});

const server = createServer((_request, response) => {
  response.end(`hello from ${port}\n`);
});
server.listen(port, '127.0.0.1');

const registration = await registry.register('greeter', `127.0.0.1:${port}`, {
  host: '127.0.0.1',
  port,
});
console.log(`registered ${registration.key} on lease ${registration.lease?.toString(16)}`);
registration.lost$.subscribe(error => {
  console.warn(`registration lost (${error.message}); registering again`);
});

process.once('SIGINT', () => {
  void registry.close().finally(() => {
    client.close();
    server.close();
    console.log('deregistered');
  });
});
