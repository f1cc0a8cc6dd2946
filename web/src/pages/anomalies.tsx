import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api/client';
import { Pager, useCursors } from '../components/pager';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useLoad } from '../use-load';

type Kind = Schemas['AuditAnomaly']['kind'];

const KINDS: { value: Kind; label: string }[] = [
  { value: 'mass-pull', label: 'mass pulls' },
  { value: 'failed-logins-account', label: 'failed logins of an account' },
  { value: 'failed-logins-address', label: 'failed logins from an address' },
  { value: 'robot-project-sweep', label: 'robot sweeping a project' },
];

/** What the audit anomaly detector found, newest first (system administrators). */
export function AnomaliesPage() {
  const [kind, setKind] = useState<Kind | ''>('');
  const [subject, setSubject] = useState('');
  const who = subject.trim();
  const { stack, cursor, setStack } = useCursors([kind, who]);
  const { data, error } = useLoad(
    () =>
      call('get', '/api/v1/audit/anomalies', {
        query: {
          limit: '50',
          ...(cursor && { cursor }),
          ...(kind && { kind }),
          ...(who && { subject: who }),
        },
      }),
    [cursor, kind, who],
  );
  return (
    <Page title="Audit anomalies">
      <p>
        <Link href="/admin/audit">The audit log</Link>
      </p>
      <p class="muted">
        Mass pulls, bursts of failed logins and robots pulling a whole project, as the detector found them in
        the audit log (each is also audited and sent to webhooks that take the anomaly event).
      </p>
      <div class="inline">
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind | '')}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Account or address{' '}
          <input type="search" value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
        </label>
      </div>
      <ErrorText error={error} />
      <table aria-label="Anomalies">
        <thead>
          <tr>
            <th scope="col">Found</th>
            <th scope="col">Kind</th>
            <th scope="col">Subject</th>
            <th scope="col">Project</th>
            <th scope="col">Events</th>
            <th scope="col">What</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((anomaly) => (
            <tr key={anomaly.id} data-testid="anomaly">
              <td>{when(anomaly.time)}</td>
              <td>{KINDS.find((k) => k.value === anomaly.kind)?.label ?? anomaly.kind}</td>
              <td>{anomaly.subject}</td>
              <td>{anomaly.project ?? '—'}</td>
              <td class="num">{anomaly.count}</td>
              <td>{anomaly.summary}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">Nothing unusual found.</p>}
      <Pager stack={stack} next={data?.next} onChange={setStack} label="Anomaly pages" />
    </Page>
  );
}
