/** Commands queued for the instance that holds a PBX's connection; each is taken once. */
import { json, type Queryable } from './queryable.ts';

export async function queueCommand(
  db: Queryable,
  pbxId: string,
  command: unknown,
  now: number,
): Promise<void> {
  await db.query('INSERT INTO pbx_commands (pbx_id, command, created_at) VALUES ($1, $2::jsonb, $3)', [
    pbxId,
    json(command),
    now,
  ]);
}

/** The oldest queued commands of the PBX, removed as they are read (SKIP LOCKED: two takers split them). */
export async function takeCommands(db: Queryable, pbxId: string, limit: number): Promise<unknown[]> {
  const { rows } = await db.query<{ command: unknown }>(
    `DELETE FROM pbx_commands WHERE id IN (
       SELECT id FROM pbx_commands WHERE pbx_id = $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING id, command`,
    [pbxId, limit],
  );
  return rows.map((r) => r.command);
}
