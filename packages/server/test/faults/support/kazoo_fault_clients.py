"""kazoo clients for the ZooKeeper fault tests, run as applications would run them.

Usage:
  python3 kazoo_fault_clients.py lock <seconds> <root> <hosts> <hosts> ...
      One contender per <hosts> list (comma-separated, tried in that order, so each starts on
      a different member), all in one process so their times compare. Each takes the kazoo
      Lock at <root>/lock, and inside it reads <root>/counter and writes a token of its own
      there with the version it read. Ends with one JSON line per contender: the critical
      sections it completed, their [enter, leave] monotonic times, and anything that showed
      another holder inside its section (a version moved by someone else).
  python3 kazoo_fault_clients.py ephemeral <hosts> <path> <timeout seconds>
      Creates an ephemeral node at <path>, prints "ready" and its session id, then sleeps
      until it is killed.
"""
import json
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, LockTimeout
from kazoo.protocol.states import KazooState


def client(hosts, timeout):
    zk = KazooClient(
        hosts=hosts,
        timeout=timeout,
        randomize_hosts=False,
        connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5},
        command_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5},
    )
    zk.start(timeout=15)
    return zk


def contend(name, hosts, root, deadline, report):
    zk = client(hosts, 10)
    lost, stopping = [], []
    zk.add_listener(lambda state: lost.append(True) if state == KazooState.LOST and not stopping else None)
    lock = zk.Lock(root + "/lock", name)
    sections, intervals, violations, timeouts = 0, [], [], 0
    while time.monotonic() < deadline:
        try:
            if not lock.acquire(timeout=5):
                timeouts += 1
                continue
        except LockTimeout:
            timeouts += 1
            continue
        enter = time.monotonic()
        try:
            data, stat = zk.retry(zk.get, root + "/counter")
            token = ("%s:%d" % (name, sections)).encode()
            try:
                # kazoo's retry resends on a lost connection: a resend that finds the version
                # moved is fine only when the move was this very write.
                zk.retry(zk.set, root + "/counter", token, version=stat.version)
            except BadVersionError:
                now, now_stat = zk.retry(zk.get, root + "/counter")
                if now != token or now_stat.version != stat.version + 1:
                    violations.append(
                        {"read": [data.decode(), stat.version], "found": [now.decode(), now_stat.version]}
                    )
            time.sleep(0.02)
            sections += 1
        finally:
            intervals.append([enter, time.monotonic()])
            zk.retry(lock.release)
    stopping.append(True)
    zk.stop()
    zk.close()
    report.append(
        {
            "name": name,
            "sections": sections,
            "intervals": intervals,
            "violations": violations,
            "lockTimeouts": timeouts,
            "sessionLost": len(lost) > 0,
        }
    )


def lock_mode(seconds, root, host_lists):
    setup = client(host_lists[0], 10)
    setup.ensure_path(root)
    try:
        setup.create(root + "/counter", b"start")
    except Exception:
        pass
    setup.stop()
    setup.close()
    deadline = time.monotonic() + seconds
    report = []
    threads = [
        threading.Thread(target=contend, args=("c%d" % i, hosts, root, deadline, report))
        for i, hosts in enumerate(host_lists)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for line in report:
        print(json.dumps(line), flush=True)


def ephemeral_mode(hosts, path, timeout):
    zk = client(hosts, timeout)
    zk.create(path, b"", ephemeral=True, makepath=True)
    print(json.dumps({"ready": True, "session": "%x" % zk.client_id[0]}), flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    if sys.argv[1] == "lock":
        lock_mode(float(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        ephemeral_mode(sys.argv[2], sys.argv[3], float(sys.argv[4]))
