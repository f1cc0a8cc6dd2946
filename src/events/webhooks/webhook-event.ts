/** What an endpoint can subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'push',
  'pull',
  'delete',
  'scan',
  'quota',
  'gc',
  'replication',
  'anomaly',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_FORMATS = ['cloudevents', 'harbor', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Something that happened, before it is rendered for an endpoint's format. */
export interface WebhookEvent {
  /** Unique per event; every endpoint's delivery of it (and every redelivery) carries it. */
  id: string;
  type: WebhookEventType;
  /** Milliseconds since the epoch. */
  time: number;
  /** The project the event belongs to; null for registry-wide events (garbage collection, replication, most anomalies). */
  project: string | null;
  repository?: string;
  digest?: string;
  tag?: string;
  /** Who did it (a login, `robot$…`, `anonymous`, or `berth` for the registry itself). */
  operator: string;
  /** Whatever else the event carries: a scan's counts, a quota's numbers, a collection's summary. */
  details?: Record<string, unknown>;
}
