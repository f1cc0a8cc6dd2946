import { randomUUID } from 'node:crypto';
import { type DestinationPolicy, DestinationRefused } from './destination-policy.js';
import { postOnce } from './http-post.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';
import type { AttemptOutcome, ClaimedDelivery, WebhookStore } from './webhook-store.js';

export interface DelivererOptions {
  /** Decrypts an endpoint's stored secret (identity when secrets are stored as given). */
  secret(stored: string, endpointId: number): string;
  /** How often each node looks for due deliveries; default 1 s. */
  pollMs?: number;
  /** A receiver that has not answered in full within this long has failed the attempt; default 10 s. */
  timeoutMs?: number;
  /** Attempts per delivery before it is given up (failed); default 8. */
  maxAttempts?: number;
  /** Consecutive failed attempts to one endpoint (any deliveries) that disable it; default 10. */
  maxFailures?: number;
  /** The first retry waits this long, each next one twice as long (capped at 1 h); default 5 s. */
  retryBaseMs?: number;
  /** Deliveries attempted at once per node; default 4. */
  concurrency?: number;
  /** Where deliveries may connect (SSRF protection); anywhere when absent. */
  destinations?: DestinationPolicy | undefined;
  onDisabled?(endpointId: number): void;
  /** A delivery refused by the destination policy (logged as a warning by the server). */
  onRefused?(endpointId: number, reason: string): void;
  onError?(error: unknown): void;
}

const MAX_BACKOFF_MS = 3_600_000;
/** Enough of a receiver's answer to show in the log. */
const MAX_ERROR_BODY = 200;

/**
 * Delivers queued webhook deliveries, on every node: claims due ones exclusively (WebhookStore.claim), POSTs
 * each with a timeout, and records the outcome; a failure is retried with exponential backoff (the next
 * attempt's time is stored, so a restart keeps the schedule). A node that dies mid-attempt leaves a lease that
 * lapses, and another node attempts it again: delivery is at least once, and exactly once unless a node dies
 * between the receiver's answer and recording it.
 */
export class WebhookDeliverer {
  readonly node = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly maxFailures: number;
  private readonly retryBaseMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly store: WebhookStore,
    private readonly options: DelivererOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.maxFailures = options.maxFailures ?? 10;
    this.retryBaseMs = options.retryBaseMs ?? 5000;
    this.concurrency = options.concurrency ?? 4;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Asks for a pass now (a new event was queued here), without waiting for the next tick. */
  nudge(): void {
    if (this.timer) void this.poll();
  }

  /** One pass if none is running: claims and attempts what is due until nothing is. */
  poll(): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    if (!this.running) {
      this.running = this.drain()
        .catch((error) => this.options.onError?.(error))
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.running;
  }

  private async drain(): Promise<void> {
    // The lease outlives the attempt's timeout, so no other node takes a delivery still being attempted.
    const leaseMs = this.timeoutMs * 2 + 5000;
    while (!this.abort.signal.aborted) {
      const claimed = await this.store.claim(this.node, leaseMs, this.concurrency);
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { refused, ...outcome } = await this.post(delivery);
    if (outcome.error === null) {
      await this.store.delivered(delivery, this.node, outcome);
      return;
    }
    // A refused destination stays refused until the configuration changes: no retries.
    const next =
      refused || delivery.attempts >= this.maxAttempts
        ? null
        : Date.now() + Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** (delivery.attempts - 1));
    const { disabled } = await this.store.attemptFailed(delivery, this.node, outcome, next, this.maxFailures);
    if (disabled) this.options.onDisabled?.(delivery.endpointId);
  }

  /** One POST; a non-2xx answer, a network error, the timeout or a refused destination is a failure. */
  private async post(delivery: ClaimedDelivery): Promise<AttemptOutcome & { refused?: boolean }> {
    const headers: Record<string, string> = {
      'content-type': delivery.contentType,
      'user-agent': 'Berth-Webhook/1',
      'x-berth-event': delivery.eventType,
      'x-berth-delivery': String(delivery.id),
      'x-berth-event-id': delivery.eventId,
    };
    const began = performance.now();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      if (delivery.secret !== null) {
        headers[SIGNATURE_HEADER] = signBody(
          delivery.body,
          this.options.secret(delivery.secret, delivery.endpointId),
        );
      }
      // A redirect is the receiver's misconfiguration: it is not followed (a 3xx fails the attempt).
      const response = await postOnce(new URL(delivery.url), {
        headers,
        body: delivery.body,
        signal: AbortSignal.any([timeout, this.abort.signal]),
        policy: this.options.destinations,
        keepBytes: MAX_ERROR_BODY * 4,
      });
      const latencyMs = Math.round(performance.now() - began);
      if (response.status >= 200 && response.status < 300) {
        return { responseCode: response.status, latencyMs, error: null };
      }
      const said = response.text.trim().slice(0, MAX_ERROR_BODY);
      return {
        responseCode: response.status,
        latencyMs,
        error: `HTTP ${response.status}${said ? `: ${said}` : ''}`,
      };
    } catch (error) {
      const latencyMs = Math.round(performance.now() - began);
      if (error instanceof DestinationRefused) {
        this.options.onRefused?.(delivery.endpointId, error.message);
        return { responseCode: null, latencyMs, error: error.message, refused: true };
      }
      const message = timeout.aborted ? `no answer within ${this.timeoutMs} ms` : describe(error);
      return { responseCode: null, latencyMs, error: message };
    }
  }
}

/** A network error's code says what (ECONNREFUSED, ENOTFOUND, …). */
function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message;
}
