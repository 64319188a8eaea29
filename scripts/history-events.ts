import { readFileSync } from 'node:fs';
import { temporal as proto } from '@temporalio/proto';

/**
 * Prints the events of a recorded history (binary protobuf, as in test/replay/histories): one line
 * each, with the marker's name or the activity's type. `npx tsx scripts/history-events.ts FILE`.
 */
const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npx tsx scripts/history-events.ts <history.binpb>\n');
  process.exit(2);
}
const history = proto.api.history.v1.History.decode(readFileSync(file));
const EventType = proto.api.enums.v1.EventType;
for (const e of history.events) {
  const what =
    e.markerRecordedEventAttributes?.markerName ??
    e.activityTaskScheduledEventAttributes?.activityType?.name ??
    '';
  process.stdout.write(`${String(e.eventId).padStart(3)} ${EventType[e.eventType ?? 0]} ${what}\n`);
}
process.stdout.write(`${history.events.length} events\n`);
