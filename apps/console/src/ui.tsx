import type {ComponentChildren} from 'preact';
import {useCallback, useEffect, useRef, useState} from 'preact/hooks';

import {GatewayError} from './etcd-gateway.js';

/** What a polled request has produced so far. */
export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly refresh: () => void;
}

/**
 * Runs `load` now, again every `intervalMs` (if given) and on `refresh()`, and again when
 * `deps` change; the request in flight is aborted when the component goes or deps change.
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number | undefined,
  deps: readonly unknown[],
): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      try {
        const value = await loadRef.current(controller.signal);
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
      } catch (e) {
        if (controller.signal.aborted) return;
        setError(e);
      }
      if (intervalMs !== undefined) {
        timer = setTimeout(() => {
          void run();
        }, intervalMs);
      }
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [...deps, generation, intervalMs]);
  const refresh = useCallback(() => {
    setGeneration(g => g + 1);
  }, []);
  return {data, error, refresh};
}

/** An error as the user should read it; a refusal by the member's auth says so plainly. */
export function ErrorBox({error}: {readonly error: unknown}) {
  if (error === undefined || error === null) return null;
  if (error instanceof GatewayError && error.isPermissionDenied) {
    return (
      <div class="error" role="alert" data-kind="permission-denied">
        <strong>Permission denied.</strong> Your user's roles do not allow this ({error.message}).
      </div>
    );
  }
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'unexpected error';
  return (
    <div class="error" role="alert">
      {message}
    </div>
  );
}

/** A modal asking to confirm a change before it is sent to the member. */
export function ConfirmDialog(props: {
  readonly title: string;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
  readonly children: ComponentChildren;
}) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') props.onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [props.onCancel]);
  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-label={props.title}>
        <h3>{props.title}</h3>
        <div class="dialog-body">{props.children}</div>
        <div class="dialog-actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button
            type="button"
            class={props.danger === true ? 'danger' : 'primary'}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** A 64-bit id the gateway gives in decimal, shown in hex as etcdctl shows member and lease ids. */
export function hexId(decimal: string | undefined): string {
  if (decimal === undefined || decimal === '') return '0';
  try {
    return BigInt(decimal).toString(16);
  } catch {
    return decimal;
  }
}

export function formatBytes(text: string | number | undefined): string {
  const n = Number(text ?? 0);
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}
