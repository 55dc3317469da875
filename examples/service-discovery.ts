/**
 * A client that discovers the instances of a service and calls them round-robin.
 *
 *   node --conditions=@synod/source --import tsx examples/service-discovery.ts
 *
 * Prints the live instance list on every change and calls one instance per second.
 * Start and stop examples/service-registration.ts on several ports to see it follow.
 */
import {createClient} from '@synod/client';
import {ServiceRegistry, roundRobinPicker} from '@synod/recipes';
import type {ServiceInstance} from '@synod/recipes';

interface Address {
  readonly host: string;
  readonly port: number;
}

const endpoints = (process.env.ETCD_ENDPOINTS ?? '127.0.0.1:2379').split(',');
const client = createClient({endpoints});
const registry = new ServiceRegistry(client);
const pick = roundRobinPicker();
let current: readonly ServiceInstance<Address>[] = [];

const subscription = registry.instances$<Address>('greeter').subscribe({
  next: instances => {
    current = instances;
    console.log(`instances: [${instances.map(i => i.id).join(', ')}]`);
  },
  error: (error: unknown) => {
    console.error('discovery failed:', error);
    process.exit(1);
  },
});

const timer = setInterval(() => {
  const target = pick(current);
  if (target === undefined) return;
  const {host, port} = target.metadata;
  fetch(`http://${host}:${port}/`)
    .then(async response => {
      console.log(`-> ${target.id}: ${(await response.text()).trim()}`);
    })
    .catch((error: unknown) => {
      console.warn(`-> ${target.id} failed: ${String(error)}`);
    });
}, 1_000);

process.once('SIGINT', () => {
  clearInterval(timer);
  subscription.unsubscribe();
  void registry.close().finally(() => {
    client.close();
  });
});
