import {useEffect, useMemo, useState} from 'preact/hooks';

import {EtcdGateway} from './etcd-gateway.js';
import {ErrorBox} from './ui.js';
import {ChartsView} from './views/charts-view.js';
import {ClusterView} from './views/cluster-view.js';
import {KeysView} from './views/keys-view.js';
import {LeasesView} from './views/leases-view.js';
import {LocksView} from './views/locks-view.js';
import {WatchView} from './views/watch-view.js';
import {ZooKeeperView} from './views/zookeeper-view.js';

const views = {
  cluster: {title: 'Cluster', View: ClusterView},
  charts: {title: 'Charts', View: ChartsView},
  keys: {title: 'Keys', View: KeysView},
  watch: {title: 'Watch', View: WatchView},
  leases: {title: 'Leases', View: LeasesView},
  locks: {title: 'Locks & elections', View: LocksView},
  zookeeper: {title: 'ZooKeeper', View: ZooKeeperView},
} as const;

type ViewName = keyof typeof views;

/** The console lives under /ui/; each view is a path below it, so a view can be bookmarked. */
const base = '/ui/';

function viewFromLocation(): ViewName {
  const name = location.pathname.startsWith(base)
    ? location.pathname.slice(base.length).split('/')[0]
    : '';
  return name !== undefined && name in views ? (name as ViewName) : 'cluster';
}

const userKey = 'synod-console-user';

export function App() {
  const gateway = useMemo(() => new EtcdGateway(), []);
  const [view, setView] = useState<ViewName>(viewFromLocation);
  const [loginNeeded, setLoginNeeded] = useState(false);
  const [authEnabled, setAuthEnabled] = useState<boolean | undefined>(undefined);
  const [user, setUser] = useState<string | undefined>(
    sessionStorage.getItem(userKey) ?? undefined,
  );
  // Views are made anew after a login, so that what they show is what the new user may see.
  const [session, setSession] = useState(0);
  useEffect(() => {
    const onPop = () => {
      setView(viewFromLocation());
    };
    window.addEventListener('popstate', onPop);
    const stopListening = gateway.onLoginNeeded(() => {
      setLoginNeeded(true);
    });
    void gateway.authEnabled().then(enabled => {
      setAuthEnabled(enabled);
      if (enabled === true && gateway.token === undefined) setLoginNeeded(true);
    });
    return () => {
      window.removeEventListener('popstate', onPop);
      stopListening();
    };
  }, [gateway]);
  const go = (name: ViewName) => {
    history.pushState(null, '', `${base}${name}`);
    setView(name);
  };
  const logOut = () => {
    gateway.token = undefined;
    sessionStorage.removeItem(userKey);
    setUser(undefined);
    setLoginNeeded(true);
  };
  const {View} = views[view];
  return (
    <div class="app">
      <header class="topbar">
        <span class="brand">Synod</span>
        <nav>
          {(Object.keys(views) as ViewName[]).map(name => (
            <a
              key={name}
              href={`${base}${name}`}
              class={name === view ? 'active' : ''}
              data-view={name}
              onClick={event => {
                event.preventDefault();
                go(name);
              }}
            >
              {views[name].title}
            </a>
          ))}
        </nav>
        <span class="who">
          {user !== undefined && gateway.token !== undefined ? (
            <>
              <span data-testid="user">{user}</span>{' '}
              <button type="button" class="link" onClick={logOut}>
                Log out
              </button>
            </>
          ) : authEnabled === false ? (
            <span class="muted">auth off</span>
          ) : (
            <button
              type="button"
              class="link"
              onClick={() => {
                setLoginNeeded(true);
              }}
            >
              Log in
            </button>
          )}
        </span>
      </header>
      <main>
        {loginNeeded ? (
          <LoginForm
            gateway={gateway}
            onLoggedIn={name => {
              sessionStorage.setItem(userKey, name);
              setUser(name);
              setLoginNeeded(false);
              setSession(s => s + 1);
            }}
          />
        ) : (
          <View key={`${view}-${session}`} gateway={gateway} />
        )}
      </main>
    </div>
  );
}

function LoginForm(props: {
  readonly gateway: EtcdGateway;
  readonly onLoggedIn: (name: string) => void;
}) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="login"
      data-testid="login"
      onSubmit={event => {
        event.preventDefault();
        setBusy(true);
        setError(undefined);
        props.gateway.authenticate(name, password).then(
          () => {
            setBusy(false);
            props.onLoggedIn(name);
          },
          (e: unknown) => {
            setBusy(false);
            setError(e);
          },
        );
      }}
    >
      <h2>Log in</h2>
      <p class="muted">This member has authentication enabled: log in with an etcd user.</p>
      <ErrorBox error={error} />
      <label>
        User
        <input
          type="text"
          name="username"
          autocomplete="username"
          value={name}
          onInput={event => {
            setName(event.currentTarget.value);
          }}
        />
      </label>
      <label>
        Password
        <input
          type="password"
          name="password"
          autocomplete="current-password"
          value={password}
          onInput={event => {
            setPassword(event.currentTarget.value);
          }}
        />
      </label>
      <button type="submit" class="primary" disabled={busy || name === ''}>
        Log in
      </button>
    </form>
  );
}
