/**
 * An app whose settings come from the keys under `examples/app/` and change while it runs.
 *
 *   node --conditions=@synod/source --import tsx examples/config-driven-app.ts
 *   etcdctl put examples/app/greeting 'Bonjour'
 *   etcdctl put examples/app/intervalMs 500
 *   etcdctl put examples/app/intervalMs soon    # invalid: reported, old settings kept
 *
 * Missing keys take defaults; a value that does not decode is reported and the last good
 * settings stay in effect.
 */
import {createClient} from '@synod/client';
import {ConfigWatcher} from '@synod/recipes';
import type {RawConfigObject} from '@synod/recipes';

interface Settings {
  readonly greeting: string;
  readonly intervalMs: number;
}

const defaults: Settings = {greeting: 'Hello', intervalMs: 2_000};

function decodeSettings(raw: RawConfigObject): Settings {
  const intervalMs = raw.intervalMs === undefined ? defaults.intervalMs : Number(raw.intervalMs);
  if (!Number.isInteger(intervalMs) || intervalMs < 100) {
    throw new Error(`intervalMs must be an integer >= 100, got ${JSON.stringify(raw.intervalMs)}`);
  }
  return {greeting: raw.greeting ?? defaults.greeting, intervalMs};
}

const endpoints = (process.env.ETCD_ENDPOINTS ?? '127.0.0.1:2379').split(',');
const client = createClient({endpoints});
const config = ConfigWatcher.prefix(client, 'examples/app/', {
  decode: decodeSettings,
  default: defaults,
});

let timer: ReturnType<typeof setInterval> | undefined;
config.invalid$.subscribe(error => {
  console.warn(error.message);
});
config.config$.subscribe(settings => {
  console.log(`settings: ${JSON.stringify(settings)}`);
  clearInterval(timer);
  timer = setInterval(() => {
    console.log(`${settings.greeting}, world`);
  }, settings.intervalMs);
});

process.once('SIGINT', () => {
  clearInterval(timer);
  config.close();
  client.close();
});
