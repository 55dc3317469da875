import {AlarmMember} from '@synod/proto';
import type {AlarmType} from '@synod/proto';
import type {Backend} from '@synod/storage';

/**
 * The alarms raised in the cluster (NOSPACE, CORRUPT), replicated through Raft and kept in
 * the backend's `alarm` bucket as etcd keeps them: the key is the encoded
 * `AlarmMember{memberID, alarm}`, the value empty. An alarm is written in the apply batch
 * that raised or disarmed it, so it is committed with the applied index that covers it: a
 * restart, even one that resumes from a raft snapshot past the entry that raised it, finds
 * exactly the alarms it had applied, and a backend image sent by the leader carries them.
 *
 * @example
 * const alarms = new Alarms(backend);   // restored from the bucket
 * alarms.activate(0x8e9en, AlarmType.NOSPACE);
 * alarms.has(AlarmType.NOSPACE);         // true, and put buffered in the `alarm` bucket
 */
export class Alarms {
  private readonly raised = new Map<string, AlarmMember>();

  constructor(private readonly backend: Backend) {
    for (const {key} of backend.range('alarm', Buffer.alloc(0))) {
      const alarm = AlarmMember.decode(key);
      this.raised.set(mapKey(alarm.memberID, alarm.alarm), alarm);
    }
  }

  list(): AlarmMember[] {
    return [...this.raised.values()];
  }

  has(alarm: AlarmType): boolean {
    for (const a of this.raised.values()) if (a.alarm === alarm) return true;
    return false;
  }

  /** Raises `alarm` for `memberID`; raising it again changes nothing. */
  activate(memberID: bigint, alarm: AlarmType): void {
    const k = mapKey(memberID, alarm);
    if (this.raised.has(k)) return;
    this.raised.set(k, {memberID, alarm});
    this.backend.put('alarm', bucketKey(memberID, alarm), new Uint8Array(0));
  }

  /** Disarms `alarm` of `memberID`; says whether it was raised. */
  deactivate(memberID: bigint, alarm: AlarmType): boolean {
    if (!this.raised.delete(mapKey(memberID, alarm))) return false;
    this.backend.delete('alarm', bucketKey(memberID, alarm));
    return true;
  }
}

function mapKey(memberID: bigint, alarm: AlarmType): string {
  return `${memberID}:${alarm}`;
}

/** etcd's key: the protobuf encoding of the AlarmMember (never empty: NONE is not stored). */
function bucketKey(memberID: bigint, alarm: AlarmType): Uint8Array {
  return AlarmMember.encode({memberID, alarm}).finish();
}
