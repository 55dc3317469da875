"""One story told to an etcd v3 JSON gateway through python's etcd3gw client.

Usage: python3 etcd3gw_scenario.py HOST PORT [API_PATH]

Without API_PATH the client keeps etcd3gw's default prefix (/v3alpha/ in 2.0.0), as
OpenStack services construct it. Each step prints one JSON line,
{"step": name, "result": ...} or {"step": name, "error": ...}, with the values the library
hands back (bytes as text); a failing step does not stop the ones after it, so one run
shows every difference. The caller normalises what differs between two servers (ids,
revisions, remaining TTLs) and compares.

The story cleans up after itself (keys deleted, leases revoked or left to expire), so it
can be told twice to the same server; revisions are then reported relative to the one
read at the start.
"""

import base64
import faulthandler
import json
import sys
import threading

from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception

# A watch that never delivers would block the iterator for ever: give up with the stacks
# of every thread instead, well inside the test's own timeout.
faulthandler.dump_traceback_later(20, exit=True)

host, port = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 3:
    client = Etcd3Client(host, port, api_path=sys.argv[3])
else:
    client = Etcd3Client(host, port)


def plain(value):
    """The value as JSON can carry it: bytes as text, tuples as lists."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf-8')
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def b64(text):
    """Base64 of a key or value, as the gateway carries them in JSON."""
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def report(step, result):
    print(json.dumps({'step': step, 'result': plain(result)}), flush=True)


def step(name, action, shown=lambda result: result):
    """Runs one step and reports `shown(result)`, or why it failed.

    Any failure is reported, not only the gateway's refusals (Etcd3Exception, with the body
    of the answer): an answer etcd3gw cannot read fails inside the library.
    """
    try:
        result = action()
    except Exception as error:
        detail = error.detail_text if isinstance(error, Etcd3Exception) else str(error)
        print(json.dumps({'step': name, 'error': {'type': type(error).__name__,
                                                  'detail': detail}}), flush=True)
        return None
    report(name, shown(result))
    return result


def collect(events, count):
    """The first `count` events of a watch, as type, key, value and previous value."""
    got = []
    for event in events:
        kv = event['kv']
        seen = {'type': event.get('type', 'PUT'), 'key': kv['key'],
                'value': kv.get('value', b''), 'mod_revision': kv['mod_revision']}
        if 'prev_kv' in event:
            # etcd3gw decodes kv but leaves prev_kv in base64.
            seen['prev_value'] = base64.b64decode(event['prev_kv'].get('value', ''))
        got.append(seen)
        if len(got) == count:
            break
    return got


def watched(watch, count, *writes):
    """The first `count` events `watch` sees while another thread applies `writes`."""
    events, cancel = watch()
    writer = threading.Thread(target=lambda: [write() for write in writes])
    writer.start()
    try:
        return collect(events, count)
    finally:
        writer.join()
        cancel()


report('api_path', client.api_path)
report('start_revision', {'revision': client.status()['header']['revision']})

# Keys and values.
step('put k/a', lambda: client.put('k/a', '1'))
step('put k/b', lambda: client.put('k/b', '2'))
step('put k/c', lambda: client.put('k/c', '3'))
step('get k/a', lambda: client.get('k/a'))
step('get missing', lambda: client.get('k/missing'))
step('get k/a with metadata', lambda: client.get('k/a', metadata=True))
step('get_prefix k/', lambda: client.get_prefix('k/'))
step('get_prefix k/ descending by key',
     lambda: [value for value, _ in client.get_prefix('k/', sort_order='descend',
                                                       sort_target='key')])
step('get_all', lambda: [(meta['key'], value) for value, meta in client.get_all()])
step('replace k/a 1 -> one', lambda: client.replace('k/a', '1', 'one'))
step('replace k/a 1 -> uno', lambda: client.replace('k/a', '1', 'uno'))
step('create k/new', lambda: client.create('k/new', 'fresh'))
step('create k/new again', lambda: client.create('k/new', 'again'))
step('get k/new', lambda: client.get('k/new'))

# Transactions as etcd3gw's callers write them (and as its create, replace and lock do):
# base64 keys, enum names, snake_case operations.
step('txn: k/b is 2, so put k/b and read k/a', lambda: client.transaction({
    'compare': [{'key': b64('k/b'), 'result': 'EQUAL', 'target': 'VALUE', 'value': b64('2')}],
    'success': [{'request_put': {'key': b64('k/b'), 'value': b64('two'), 'prev_kv': True}},
                {'request_range': {'key': b64('k/a')}}],
    'failure': [{'request_range': {'key': b64('k/b')}}],
}))
step('txn: k/b is not 2 any more, so read it', lambda: client.transaction({
    'compare': [{'key': b64('k/b'), 'result': 'EQUAL', 'target': 'VALUE', 'value': b64('2')}],
    'success': [{'request_delete_range': {'key': b64('k/b')}}],
    'failure': [{'request_range': {'key': b64('k/b')}}],
}))
step('txn: version of k/c greater than 0, delete it', lambda: client.transaction({
    'compare': [{'key': b64('k/c'), 'result': 'GREATER', 'target': 'VERSION', 'version': 0}],
    'success': [{'request_delete_range': {'key': b64('k/c'), 'prev_kv': True}}],
    'failure': [],
}))
step('delete k/c, already gone', lambda: client.delete('k/c'))
step('delete k/new', lambda: client.delete('k/new'))
step('get_prefix k/ after deletes', lambda: [(meta['key'], value)
                                             for value, meta in client.get_prefix('k/')])

# Watches. etcd3gw's watch() returns once the gateway has answered the request, which
# etcd does only when the watch exists, so a write right after it must be seen.
step('watch w/key: put x, put y, delete',
     lambda: watched(lambda: client.watch('w/key', prev_kv=True), 3,
                     lambda: client.put('w/key', 'x'), lambda: client.put('w/key', 'y'),
                     lambda: client.delete('w/key')))
step('watch_prefix wp/: put wp/a, other, wp/b',
     lambda: watched(lambda: client.watch_prefix('wp/'), 2,
                     lambda: client.put('wp/a', '1'), lambda: client.put('other', 'x'),
                     lambda: client.put('wp/b', '2')))
first_put = step('get k/a metadata', lambda: client.get('k/a', metadata=True)[0][1])
step('watch_once k/a from its first revision',
     lambda: client.watch_once('k/a', timeout=5,
                               start_revision=int(first_put['create_revision'])))
step('delete_prefix wp/', lambda: client.delete_prefix('wp/'))
step('delete other', lambda: client.delete('other'))

# Leases.
lease = step('lease grant', lambda: client.lease(ttl=60), lambda lease: {'ID': str(lease.id)})
# A lease that failed to be granted is None: the steps that use it then report the error.
step('put l/key with the lease', lambda: client.put('l/key', 'leased', lease=lease))
step('lease keys', lambda: lease.keys())
step('lease ttl', lambda: {'TTL': lease.ttl(), 'grantedTTL': 60})
step('lease refresh', lambda: lease.refresh())
step('get l/key with metadata', lambda: client.get('l/key', metadata=True))
step('lease revoke', lambda: lease.revoke())
step('get l/key after revoke', lambda: client.get('l/key'))
step('lease ttl after revoke', lambda: lease.ttl())
step('lease keys after revoke', lambda: lease.keys())

# The lock: etcd3gw builds it from a lease and transactions on /locks/<name>.
lock = client.lock('resource', ttl=30)
step('lock acquire', lock.acquire)
step('lock is_acquired', lock.is_acquired)
step('lock key holds its uuid', lambda: client.get('/locks/resource') == [lock.uuid.encode()])
rival = client.lock('resource', ttl=30)
step('rival acquire while held', rival.acquire)
step('rival is_acquired', rival.is_acquired)
step('rival release, not the holder', rival.release)
step('lock still is_acquired', lock.is_acquired)
step('lock refresh', lock.refresh)
step('lock release', lock.release)
step('lock is_acquired after release', lock.is_acquired)
step('rival acquire after release', rival.acquire)
step('rival release', rival.release)


def with_lock():
    with client.lock('guarded', ttl=30) as held:
        inside = held.is_acquired()
    return {'inside': inside, 'after': held.is_acquired(),
            'key left': client.get('/locks/guarded')}


step('lock as a context manager', with_lock)

# The cluster.
step('members', client.members)
step('status', client.status)

step('delete_prefix k/', lambda: client.delete_prefix('k/'))
step('get_prefix k/ at the end', lambda: client.get_prefix('k/'))
