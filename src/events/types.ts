/** One audited action (issue #3): who did what to which resource, from where, and how it ended. */
export interface AuditInput {
  actor: string;
  actorKind: 'user' | 'robot' | 'anonymous' | 'system';
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  /** push, pull, delete, login, token, user.create, user.update, project.create, member.set, robot.create, … */
  action: string;
  /** repo:tag, repo@digest, project name, `user:<name>`, `robot:<name>`, … */
  resource: string;
  result: 'success' | 'failure';
  /** Free text or JSON: why it failed, what changed. */
  detail?: string | undefined;
}

export interface AuditEvent extends Required<Omit<AuditInput, 'sourceIp' | 'userAgent' | 'detail'>> {
  id: number;
  time: number;
  sourceIp: string | null;
  userAgent: string | null;
  detail: string | null;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  /** Events whose resource starts with this. */
  resourcePrefix?: string;
  /** Milliseconds since the epoch, inclusive. */
  from?: number;
  /** Exclusive. */
  to?: number;
  limit: number;
  /** Newest first; the next page starts below this event id. */
  before?: number;
}

/** Where audited actions go. `record` never waits and never throws: writes are batched. */
export interface AuditSink {
  record(event: AuditInput): void;
}
