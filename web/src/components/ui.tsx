import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { quotaPercent } from '../format';

/** An error in words: the API's message with its status and code, or the error's own message. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {errorMessage(error)}
    </p>
  );
}

/** Copies `text`; says so for a moment (and to screen readers). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      aria-label={`${label}: ${text}`}
      onClick={async () => {
        await navigator.clipboard.writeText(text);
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      <span aria-live="polite">{copied ? 'Copied' : label}</span>
    </button>
  );
}

export function UsageBar({ used, limit }: { used: number; limit: number | null }) {
  const percent = quotaPercent(used, limit);
  if (percent === null) return <span class="muted">no quota</span>;
  return (
    <span class="usage">
      <progress max={100} value={percent} aria-label={`${percent}% of the quota used`} />
      <span>{percent}%</span>
    </span>
  );
}

export function Page({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section>
      <header class="page-head">
        <h1>{title}</h1>
        <div class="actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}
