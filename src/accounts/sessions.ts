import type { AccountsStore, SessionRow } from '../metadata/index.js';
import { ROBOT_PREFIX } from './account-records.js';
import { AccountError, type Session, type SessionOpening } from './types.js';

/** A subject keeps at most this many sessions; opening another drops the oldest. */
export const MAX_SESSIONS = 200;
/** A session's last_used_at is written at most this often. */
const USE_RESOLUTION_MS = 60_000;
/** Expired sessions are deleted at most this often per process (and only when a session is opened). */
const PRUNE_INTERVAL_MS = 60_000;

const clip = (text: string | undefined, max: number) =>
  text === undefined || text === '' ? null : text.slice(0, max);

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    subject: row.subject,
    clientId: row.clientId,
    userAgent: row.userAgent,
    sourceIp: row.sourceIp,
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
  };
}

/**
 * Sessions: the refresh tokens handed out, one row each (by `jti`), so that each can be listed and revoked, and
 * "sign out everywhere", which deletes a user's rows and raises their session generation (which voids the
 * access tokens issued before; see server/auth/session-generations.ts). Every check reads the database, so a
 * revocation holds on every node as soon as it is committed.
 */
export class SessionRecords {
  #prunedAt = 0;

  constructor(
    private readonly store: AccountsStore,
    private readonly now: () => number,
    private readonly onSignedOut: (subject: string, generation: number) => void = () => {},
  ) {}

  /** Records a refresh token about to be handed out to `subject` (a username or robot$name). */
  async open(input: SessionOpening): Promise<void> {
    const now = this.now();
    const owner = await this.#owner(input.subject);
    if (now - this.#prunedAt >= PRUNE_INTERVAL_MS) {
      this.#prunedAt = now;
      await this.store.sessions.deleteExpired(now);
    }
    await this.store.sessions.insert({
      id: input.id,
      subject: input.subject,
      ...owner,
      clientId: clip(input.clientId, 128),
      userAgent: clip(input.userAgent, 256),
      sourceIp: clip(input.sourceIp, 64),
      issuedAt: now,
      expiresAt: input.expiresAt,
    });
    await this.store.sessions.trim(input.subject, MAX_SESSIONS);
  }

  /** Whether the session is still there (not revoked, not expired) for `subject`; records the use. */
  async use(id: string, subject: string): Promise<boolean> {
    const row = await this.store.sessions.byId(id);
    const now = this.now();
    if (!row || row.subject !== subject || row.expiresAt <= now) return false;
    if (row.lastUsedAt === null || now - row.lastUsedAt >= USE_RESOLUTION_MS) {
      await this.store.sessions.touch(id, now);
    }
    return true;
  }

  async list(username: string): Promise<Session[]> {
    await this.#user(username);
    return (await this.store.sessions.ofSubject(username, this.now())).map(toSession);
  }

  async revoke(username: string, id: string): Promise<void> {
    await this.#user(username);
    if (!(await this.store.sessions.delete(username, id))) {
      throw new AccountError('NOT_FOUND', `session ${id} of ${username} does not exist`);
    }
  }

  /** Revokes every session of the user and voids their outstanding access tokens. */
  async signOutEverywhere(username: string): Promise<{ revoked: number; generation: number }> {
    await this.#user(username);
    const result = await this.store.transaction(async (store) => ({
      revoked: await store.sessions.deleteAll(username),
      generation: await store.sessions.raiseGeneration(username),
    }));
    this.onSignedOut(username, result.generation);
    return result;
  }

  generation(subject: string): Promise<number> {
    return this.store.sessions.generation(subject);
  }

  async #user(username: string) {
    const user = await this.store.users.byName(username);
    if (!user) throw new AccountError('NOT_FOUND', `user ${username} does not exist`);
    return user;
  }

  /** The row the session goes with (deleting the user or robot deletes its sessions). */
  async #owner(subject: string): Promise<{ userId: number | null; robotId: number | null }> {
    if (subject.startsWith(ROBOT_PREFIX)) {
      const robot = await this.store.robots.byName(subject.slice(ROBOT_PREFIX.length));
      if (!robot) throw new AccountError('NOT_FOUND', `robot ${subject} does not exist`);
      return { userId: null, robotId: robot.id };
    }
    return { userId: (await this.#user(subject)).id, robotId: null };
  }
}
