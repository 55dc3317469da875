import {useEffect, useState} from 'preact/hooks';

import {bytesFromBase64, displayText} from '../bytes.js';
import type {EtcdGateway, WatchEvent} from '../etcd-gateway.js';
import {ErrorBox} from '../ui.js';
import {prefixRange} from './keys-view.js';

/** Events kept on screen; older ones scroll away. */
const eventLimit = 500;

interface SeenEvent {
  readonly id: number;
  readonly revision: string;
  readonly event: WatchEvent;
}

/** Every change under a prefix as it happens, through the gateway's streaming watch. */
export function WatchView({gateway}: {readonly gateway: EtcdGateway}) {
  const [prefixInput, setPrefixInput] = useState('');
  const [watching, setWatching] = useState<string | undefined>(undefined);
  const [events, setEvents] = useState<readonly SeenEvent[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [startRevision, setStartRevision] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (watching === undefined) return;
    const controller = new AbortController();
    let nextId = 0;
    setError(undefined);
    setStartRevision(undefined);
    gateway
      .watch(
        {...prefixRange(watching), prev_kv: false},
        response => {
          if (response.created === true) setStartRevision(response.header?.revision);
          const fresh = (response.events ?? []).map(event => ({
            id: nextId++,
            revision: event.kv?.mod_revision ?? '',
            event,
          }));
          if (fresh.length > 0) setEvents(old => [...fresh.reverse(), ...old].slice(0, eventLimit));
        },
        controller.signal,
      )
      .then(
        () => {
          if (!controller.signal.aborted) setError(new Error('The member ended the watch.'));
        },
        (e: unknown) => {
          if (!controller.signal.aborted) setError(e);
        },
      );
    return () => {
      controller.abort();
    };
  }, [gateway, watching]);
  return (
    <div class="view">
      <form
        class="row"
        onSubmit={event => {
          event.preventDefault();
          setEvents([]);
          setWatching(prefixInput);
        }}
      >
        <input
          type="text"
          placeholder="key prefix (empty: all keys)"
          value={prefixInput}
          data-testid="watch-prefix"
          onInput={event => {
            setPrefixInput(event.currentTarget.value);
          }}
        />
        <button type="submit" class="primary">
          Watch
        </button>
        <button
          type="button"
          disabled={watching === undefined}
          onClick={() => {
            setWatching(undefined);
          }}
        >
          Stop
        </button>
      </form>
      <ErrorBox error={error} />
      {watching === undefined ? (
        <p class="muted">Not watching.</p>
      ) : (
        <p class="muted" data-testid="watch-status">
          {startRevision === undefined
            ? 'Starting…'
            : `Watching ${watching === '' ? 'every key' : `keys under "${watching}"`} since revision ${startRevision}.`}
        </p>
      )}
      <table data-testid="watch-events">
        <thead>
          <tr>
            <th>Revision</th>
            <th>Event</th>
            <th>Key</th>
            <th>Value</th>
          </tr>
        </thead>
        <tbody>
          {events.map(({id, revision, event}) => (
            <tr key={id}>
              <td>{revision}</td>
              <td>
                <span class={`badge ${event.type === 'DELETE' ? 'bad' : 'good'}`}>
                  {event.type ?? 'PUT'}
                </span>
              </td>
              <td class="mono">{displayText(bytesFromBase64(event.kv?.key))}</td>
              <td class="mono clip">
                {displayText(bytesFromBase64(event.kv?.value).subarray(0, 200))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
