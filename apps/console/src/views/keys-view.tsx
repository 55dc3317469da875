import {useState} from 'preact/hooks';

import {
  base64FromBytes,
  bytesFromBase64,
  bytesFromText,
  displayText,
  prefixRangeEnd,
  strictText,
} from '../bytes.js';
import type {EtcdGateway, KeyValue, RangeResponse} from '../etcd-gateway.js';
import {GatewayError} from '../etcd-gateway.js';
import type {KeyTreeNode} from '../key-tree.js';
import {buildKeyTree} from '../key-tree.js';
import {ConfirmDialog, ErrorBox, formatBytes, hexId, usePoll} from '../ui.js';
import type {ValueFormat} from '../value-format.js';
import {formatValue, guessFormat} from '../value-format.js';

/** Keys listed at once; the count says how many more there are. */
const keyLimit = 1000;
/** Older versions of a key shown at most. */
const historyLimit = 20;

/** The range of every key under `prefix`; every key at all for an empty prefix. */
export function prefixRange(prefix: string): {key: string; range_end: string} {
  const bytes = bytesFromText(prefix);
  return {
    key: base64FromBytes(bytes.length === 0 ? new Uint8Array([0]) : bytes),
    range_end: base64FromBytes(prefixRangeEnd(bytes)),
  };
}

/** The keyspace as a tree, a key's value, its history, and put and delete behind a confirmation. */
export function KeysView({gateway}: {readonly gateway: EtcdGateway}) {
  const [prefixInput, setPrefixInput] = useState('');
  const [prefix, setPrefix] = useState('');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [creating, setCreating] = useState(false);
  const keys = usePoll(
    signal => gateway.range({...prefixRange(prefix), keys_only: true, limit: keyLimit}, signal),
    undefined,
    [gateway, prefix],
  );
  const tree = buildKeyTree((keys.data?.kvs ?? []).map(kv => bytesFromBase64(kv.key)));
  const total = Number(keys.data?.count ?? 0);
  const changed = (key64: string | undefined) => {
    keys.refresh();
    setSelected(key64);
    setCreating(false);
  };
  return (
    <div class="view split">
      <aside class="pane tree-pane">
        <form
          class="row"
          onSubmit={event => {
            event.preventDefault();
            // Listing the same prefix again reads it again.
            if (prefixInput === prefix) keys.refresh();
            else setPrefix(prefixInput);
            setSelected(undefined);
          }}
        >
          <input
            type="text"
            placeholder="key prefix (empty: all keys)"
            value={prefixInput}
            data-testid="prefix"
            onInput={event => {
              setPrefixInput(event.currentTarget.value);
            }}
          />
          <button type="submit">List</button>
        </form>
        <div class="row">
          <button
            type="button"
            onClick={() => {
              setCreating(true);
              setSelected(undefined);
            }}
          >
            New key…
          </button>
          <button type="button" onClick={keys.refresh}>
            Refresh
          </button>
        </div>
        <ErrorBox error={keys.error} />
        {keys.data === undefined ? null : (
          <p class="muted">
            {total} key{total === 1 ? '' : 's'}
            {total > keyLimit ? `, first ${keyLimit} shown` : ''} at revision{' '}
            {keys.data.header?.revision ?? '?'}
          </p>
        )}
        <ul class="tree" data-testid="key-tree">
          {[...tree.children.values()].map(node => (
            <TreeNode
              key={node.path64}
              node={node}
              selected={selected}
              onSelect={setSelected}
              depth={0}
            />
          ))}
        </ul>
      </aside>
      <section class="pane detail-pane">
        {creating ? (
          <NewKey gateway={gateway} defaultKey={prefix} onDone={changed} />
        ) : selected === undefined ? (
          <p class="muted">Choose a key in the tree.</p>
        ) : (
          <KeyDetail key={selected} gateway={gateway} key64={selected} onChanged={changed} />
        )}
      </section>
    </div>
  );
}

function TreeNode(props: {
  readonly node: KeyTreeNode;
  readonly selected: string | undefined;
  readonly onSelect: (key64: string) => void;
  readonly depth: number;
}) {
  const {node} = props;
  const [open, setOpen] = useState(props.depth < 1 || node.count <= 20);
  const hasChildren = node.children.size > 0;
  const label = node.label === '/' ? '/' : node.label;
  return (
    <li>
      <div class="tree-row">
        {hasChildren ? (
          <button
            type="button"
            class="twisty"
            aria-label={open ? 'collapse' : 'expand'}
            onClick={() => {
              setOpen(!open);
            }}
          >
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span class="twisty" />
        )}
        {node.key64 === undefined ? (
          <span class="tree-folder">
            {label} <span class="muted">({node.count})</span>
          </span>
        ) : (
          <button
            type="button"
            class={`tree-key${props.selected === node.key64 ? ' selected' : ''}`}
            data-key={displayText(bytesFromBase64(node.key64))}
            onClick={() => {
              if (node.key64 !== undefined) props.onSelect(node.key64);
            }}
          >
            {label}
          </button>
        )}
      </div>
      {hasChildren && open ? (
        <ul>
          {[...node.children.values()].map(child => (
            <TreeNode
              key={child.path64}
              node={child}
              selected={props.selected}
              onSelect={props.onSelect}
              depth={props.depth + 1}
            />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

/** The value in the chosen format, with a note when the format does not fit it. */
function ValueBlock({
  value64,
  format,
}: {
  readonly value64: string | undefined;
  readonly format: ValueFormat | 'auto';
}) {
  const bytes = bytesFromBase64(value64);
  const shown = format === 'auto' ? guessFormat(bytes) : format;
  const {text, note} = formatValue(bytes, shown);
  return (
    <div>
      {note === undefined ? null : <p class="muted">{note}</p>}
      <pre class="value" data-testid="value" data-format={shown}>
        {text}
      </pre>
    </div>
  );
}

function KeyDetail(props: {
  readonly gateway: EtcdGateway;
  readonly key64: string;
  readonly onChanged: (key64: string | undefined) => void;
}) {
  const {gateway, key64} = props;
  const [format, setFormat] = useState<ValueFormat | 'auto'>('auto');
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [confirm, setConfirm] = useState<'put' | 'delete' | undefined>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [showHistory, setShowHistory] = useState(false);
  const current = usePoll(signal => gateway.range({key: key64}, signal), undefined, [
    gateway,
    key64,
  ]);
  const kv = current.data?.kvs?.[0];
  const keyText = displayText(bytesFromBase64(key64));
  const apply = async (action: 'put' | 'delete') => {
    setConfirm(undefined);
    setActionError(undefined);
    try {
      if (action === 'put') {
        await gateway.call('kv/put', {
          key: key64,
          value: base64FromBytes(bytesFromText(editing ?? '')),
          // Keep the key on its lease, as etcdctl put --ignore-lease would.
          ignore_lease: kv?.lease !== undefined,
        });
        setEditing(undefined);
        current.refresh();
        props.onChanged(key64);
      } else {
        await gateway.call('kv/deleterange', {key: key64});
        props.onChanged(undefined);
      }
    } catch (error) {
      setActionError(error);
    }
  };
  return (
    <div data-testid="key-detail">
      <h2 class="mono key-title">{keyText}</h2>
      <ErrorBox error={current.error} />
      <ErrorBox error={actionError} />
      {current.data !== undefined && kv === undefined ? (
        <p class="muted">This key does not exist (any more).</p>
      ) : null}
      {kv === undefined ? null : (
        <>
          <KeyMeta kv={kv} />
          <div class="row">
            <label>
              Show as{' '}
              <select
                value={format}
                data-testid="format"
                onChange={event => {
                  setFormat(event.currentTarget.value as ValueFormat | 'auto');
                }}
              >
                <option value="auto">auto</option>
                <option value="text">text</option>
                <option value="json">JSON</option>
                <option value="hex">hex</option>
              </select>
            </label>
            {editing === undefined ? (
              // A value that is not UTF-8 would not survive a round trip through a text box.
              <button
                type="button"
                data-testid="edit"
                disabled={strictText(bytesFromBase64(kv.value)) === undefined}
                title={
                  strictText(bytesFromBase64(kv.value)) === undefined
                    ? 'Not valid UTF-8: this value cannot be edited as text'
                    : undefined
                }
                onClick={() => {
                  setEditing(strictText(bytesFromBase64(kv.value)));
                }}
              >
                Edit
              </button>
            ) : null}
            <button
              type="button"
              class="danger"
              onClick={() => {
                setConfirm('delete');
              }}
            >
              Delete…
            </button>
            <button
              type="button"
              onClick={() => {
                setShowHistory(!showHistory);
              }}
            >
              {showHistory ? 'Hide history' : 'History'}
            </button>
          </div>
          {editing === undefined ? (
            <ValueBlock value64={kv.value} format={format} />
          ) : (
            <div>
              <textarea
                class="value-editor"
                data-testid="value-editor"
                value={editing}
                onInput={event => {
                  setEditing(event.currentTarget.value);
                }}
              />
              <div class="row">
                <button
                  type="button"
                  class="primary"
                  onClick={() => {
                    setConfirm('put');
                  }}
                >
                  Put…
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setEditing(undefined);
                  }}
                >
                  Cancel
                </button>
              </div>
            </div>
          )}
          {showHistory ? <History gateway={gateway} kv={kv} format={format} /> : null}
        </>
      )}
      {confirm === undefined ? null : (
        <ConfirmDialog
          title={confirm === 'put' ? 'Put this value?' : 'Delete this key?'}
          confirmLabel={confirm === 'put' ? 'Put' : 'Delete'}
          danger={confirm === 'delete'}
          onCancel={() => {
            setConfirm(undefined);
          }}
          onConfirm={() => {
            void apply(confirm);
          }}
        >
          <p>
            Key <code>{keyText}</code>
          </p>
          {confirm === 'put' ? (
            <p>
              New value: {formatBytes(bytesFromText(editing ?? '').length)}, replacing version{' '}
              {kv?.version ?? '?'}.
            </p>
          ) : (
            <p>
              The key and its value are removed at a new revision; older revisions keep them until
              compaction.
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

function KeyMeta({kv}: {readonly kv: KeyValue}) {
  return (
    <dl class="meta">
      <dt>created at</dt>
      <dd>{kv.create_revision ?? '0'}</dd>
      <dt>modified at</dt>
      <dd>{kv.mod_revision ?? '0'}</dd>
      <dt>version</dt>
      <dd>{kv.version ?? '0'}</dd>
      <dt>lease</dt>
      <dd class="mono">{kv.lease === undefined ? 'none' : hexId(kv.lease)}</dd>
      <dt>size</dt>
      <dd>{formatBytes(bytesFromBase64(kv.value).length)}</dd>
    </dl>
  );
}

/**
 * The key's earlier versions in its current life, newest first: each one read by a range at
 * the revision just before the next one's modification, down to the key's create revision.
 * Revisions compacted away end the list with a note.
 */
function History(props: {
  readonly gateway: EtcdGateway;
  readonly kv: KeyValue;
  readonly format: ValueFormat | 'auto';
}) {
  const {gateway, kv} = props;
  const history = usePoll(
    async signal => {
      const versions: KeyValue[] = [];
      const created = Number(kv.create_revision ?? 0);
      let revision = Number(kv.mod_revision ?? 0) - 1;
      let compacted = false;
      while (revision >= created && versions.length < historyLimit) {
        let answer: RangeResponse;
        try {
          answer = await gateway.range({key: kv.key ?? '', revision}, signal);
        } catch (error) {
          if (error instanceof GatewayError && error.message.includes('compacted')) {
            compacted = true;
            break;
          }
          throw error;
        }
        const older = answer.kvs?.[0];
        if (older === undefined) break;
        versions.push(older);
        revision = Number(older.mod_revision ?? 0) - 1;
      }
      return {versions, compacted, more: revision >= created && !compacted};
    },
    undefined,
    [gateway, kv.key, kv.mod_revision],
  );
  return (
    <section class="history" data-testid="history">
      <h3>History</h3>
      <ErrorBox error={history.error} />
      {history.data === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          {history.data.versions.length === 0 ? (
            <p class="muted">No earlier version since the key was created.</p>
          ) : null}
          {history.data.versions.map(older => (
            <div class="history-entry" key={older.mod_revision}>
              <div class="muted">
                version {older.version ?? '?'} · written at revision {older.mod_revision ?? '?'}
              </div>
              <ValueBlock value64={older.value} format={props.format} />
            </div>
          ))}
          {history.data.compacted ? <p class="muted">Older revisions were compacted.</p> : null}
          {history.data.more ? <p class="muted">Older versions not shown.</p> : null}
        </>
      )}
    </section>
  );
}

function NewKey(props: {
  readonly gateway: EtcdGateway;
  readonly defaultKey: string;
  readonly onDone: (key64: string | undefined) => void;
}) {
  const [key, setKey] = useState(props.defaultKey);
  const [value, setValue] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const key64 = base64FromBytes(bytesFromText(key));
  const put = async () => {
    setConfirming(false);
    setError(undefined);
    try {
      await props.gateway.call('kv/put', {
        key: key64,
        value: base64FromBytes(bytesFromText(value)),
      });
      props.onDone(key64);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form
      class="new-key"
      data-testid="new-key"
      onSubmit={event => {
        event.preventDefault();
        if (key !== '') setConfirming(true);
      }}
    >
      <h2>New key</h2>
      <ErrorBox error={error} />
      <label>
        Key
        <input
          type="text"
          value={key}
          data-testid="new-key-name"
          onInput={event => {
            setKey(event.currentTarget.value);
          }}
        />
      </label>
      <label>
        Value
        <textarea
          class="value-editor"
          value={value}
          data-testid="new-key-value"
          onInput={event => {
            setValue(event.currentTarget.value);
          }}
        />
      </label>
      <div class="row">
        <button type="submit" class="primary" disabled={key === ''}>
          Put…
        </button>
        <button
          type="button"
          onClick={() => {
            props.onDone(undefined);
          }}
        >
          Cancel
        </button>
      </div>
      {confirming ? (
        <ConfirmDialog
          title="Put this key?"
          confirmLabel="Put"
          onCancel={() => {
            setConfirming(false);
          }}
          onConfirm={() => {
            void put();
          }}
        >
          <p>
            Key <code>{key}</code>, value of {formatBytes(bytesFromText(value).length)}. An existing
            key of that name is overwritten.
          </p>
        </ConfirmDialog>
      ) : null}
    </form>
  );
}
