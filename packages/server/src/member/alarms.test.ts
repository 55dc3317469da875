import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {AlarmMember, AlarmType} from '@synod/proto';
import {Backend, BACKEND_FILE} from '@synod/storage';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {Alarms} from './alarms.js';

describe('Alarms', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'synod-alarms-'));
  });
  afterEach(() => {
    rmSync(dir, {recursive: true, force: true});
  });

  it('stores each alarm under its encoded AlarmMember, as etcd keys its alarm bucket', async () => {
    const backend = Backend.open(join(dir, 'a'));
    const alarms = new Alarms(backend);
    alarms.activate(7n, AlarmType.NOSPACE);
    alarms.activate(7n, AlarmType.NOSPACE);
    alarms.activate(9n, AlarmType.CORRUPT);
    const keys = [...backend.range('alarm', Buffer.alloc(0))].map(e => AlarmMember.decode(e.key));
    expect(keys).toEqual([
      {memberID: 7n, alarm: AlarmType.NOSPACE},
      {memberID: 9n, alarm: AlarmType.CORRUPT},
    ]);
    expect(alarms.has(AlarmType.NOSPACE)).toBe(true);
    expect(alarms.deactivate(7n, AlarmType.NOSPACE)).toBe(true);
    expect(alarms.deactivate(7n, AlarmType.NOSPACE)).toBe(false);
    expect(alarms.has(AlarmType.NOSPACE)).toBe(false);
    await backend.close();
  });

  it('restores the committed alarms from the backend, and from a copy of it a leader sends', async () => {
    const backend = Backend.open(join(dir, 'a'));
    const alarms = new Alarms(backend);
    alarms.activate(7n, AlarmType.NOSPACE);
    alarms.activate(9n, AlarmType.CORRUPT);
    alarms.deactivate(9n, AlarmType.CORRUPT);
    await backend.commit();
    mkdirSync(join(dir, 'b'));
    await backend.copyTo(join(dir, 'b', BACKEND_FILE), true);
    await backend.close();

    for (const at of ['a', 'b']) {
      const reopened = Backend.open(join(dir, at));
      expect(new Alarms(reopened).list()).toEqual([{memberID: 7n, alarm: AlarmType.NOSPACE}]);
      await reopened.close();
    }
  });
});
