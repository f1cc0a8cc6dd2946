import type { Selectable } from 'kysely';
import type { Db } from './account-columns.js';
import type { Database } from './schema.js';

/** A refresh token handed out: the session a client holds (migration 0006). */
export interface SessionRow {
  /** The token's `jti`. */
  id: string;
  /** A username or robot$name. */
  subject: string;
  userId: number | null;
  robotId: number | null;
  clientId: string | null;
  userAgent: string | null;
  sourceIp: string | null;
  issuedAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
}

function toSessionRow(row: Selectable<Database['refresh_tokens']>): SessionRow {
  return {
    id: row.id,
    subject: row.subject,
    userId: row.user_id === null ? null : Number(row.user_id),
    robotId: row.robot_id === null ? null : Number(row.robot_id),
    clientId: row.client_id,
    userAgent: row.user_agent,
    sourceIp: row.source_ip,
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/**
 * The refresh_tokens table (a row per refresh token: revoking is deleting it) and session_generations (per
 * subject, the counter "sign out everywhere" raises).
 */
export class SessionRows {
  constructor(private readonly db: Db) {}

  async insert(session: Omit<SessionRow, 'lastUsedAt'>): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        id: session.id,
        subject: session.subject,
        user_id: session.userId,
        robot_id: session.robotId,
        client_id: session.clientId,
        user_agent: session.userAgent,
        source_ip: session.sourceIp,
        issued_at: session.issuedAt,
        expires_at: session.expiresAt,
        last_used_at: null,
      })
      .execute();
  }

  async byId(id: string): Promise<SessionRow | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSessionRow(row);
  }

  /** The subject's sessions not yet expired, newest first. */
  async ofSubject(subject: string, now: number): Promise<SessionRow[]> {
    const rows = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('subject', '=', subject)
      .where('expires_at', '>', now)
      .orderBy('issued_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toSessionRow);
  }

  /** Keeps the subject's `keep` newest sessions; deletes the older ones. */
  async trim(subject: string, keep: number): Promise<void> {
    const kept = await this.db
      .selectFrom('refresh_tokens')
      .select('issued_at')
      .where('subject', '=', subject)
      .orderBy('issued_at', 'desc')
      .offset(keep - 1)
      .limit(1)
      .executeTakeFirst();
    if (!kept) return;
    await this.db
      .deleteFrom('refresh_tokens')
      .where('subject', '=', subject)
      .where('issued_at', '<', Number(kept.issued_at))
      .execute();
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  /** False when the subject has no such session. */
  async delete(subject: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('refresh_tokens')
      .where('subject', '=', subject)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async deleteAll(subject: string): Promise<number> {
    const result = await this.db
      .deleteFrom('refresh_tokens')
      .where('subject', '=', subject)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<=', now).execute();
  }

  /** The subject's session generation: 0 until they first sign out everywhere. */
  async generation(subject: string): Promise<number> {
    const row = await this.db
      .selectFrom('session_generations')
      .select('generation')
      .where('subject', '=', subject)
      .executeTakeFirst();
    return row ? Number(row.generation) : 0;
  }

  /** Raises the subject's generation by one (atomically, also against other nodes); returns the new one. */
  async raiseGeneration(subject: string): Promise<number> {
    const row = await this.db
      .insertInto('session_generations')
      .values({ subject, generation: 1 })
      .onConflict((oc) =>
        oc
          .column('subject')
          .doUpdateSet((eb) => ({ generation: eb('session_generations.generation', '+', 1) })),
      )
      .returning('generation')
      .executeTakeFirstOrThrow();
    return Number(row.generation);
  }
}
