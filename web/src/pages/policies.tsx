import { call } from '../api/client';
import { ErrorText, UsageBar } from '../components/ui';
import { bytes, parseBytes, when } from '../format';
import type { ProjectRights, Right } from '../permissions';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { ProjectSettingsSection } from './project-settings';
import { RetentionSection } from './retention';
import { ScanningSection } from './scanning-policy';
import { TrustSection } from './trust-policy';

function QuotaSection({ name, right }: { name: string; right: Right }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}/quota', { path: { name } }),
    [name],
  );
  const { failure, setFailure, act } = useAct(reload);
  const set = (limitBytes: number | null) =>
    act(() => call('put', '/api/v1/projects/{name}/quota', { path: { name }, body: { limitBytes } }));
  return (
    <section aria-labelledby="quota">
      <h3 id="quota">Quota</h3>
      <ErrorText error={error ?? failure} />
      {data && (
        <p data-testid="quota-usage">
          {bytes(data.usedBytes)} used{data.limitBytes !== null && ` of ${bytes(data.limitBytes)}`}{' '}
          <UsageBar used={data.usedBytes} limit={data.limitBytes} />
        </p>
      )}
      {right.write ? (
        <form
          class="inline"
          aria-label="Quota"
          onSubmit={(event) => {
            event.preventDefault();
            const text = String(new FormData(event.currentTarget).get('limit') ?? '');
            const limit = parseBytes(text);
            if (limit === undefined) {
              setFailure(
                new Error(
                  `'${text}' is not a size: a number of bytes, optionally with a unit (500MB, 10GiB)`,
                ),
              );
              return;
            }
            void set(limit);
          }}
        >
          <label>
            Limit <input name="limit" placeholder="50GB" required size={10} />
          </label>
          <button type="submit">Set quota</button>
          {data?.limitBytes !== null && data?.limitBytes !== undefined && (
            <button type="button" class="danger" onClick={() => set(null)}>
              Remove quota
            </button>
          )}
        </form>
      ) : (
        <p class="muted">System administrators set quotas.</p>
      )}
    </section>
  );
}

function ImmutabilitySection({ name, right }: { name: string; right: Right }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}/immutability', { path: { name } }),
    [name],
  );
  const { failure, act } = useAct(reload);
  return (
    <section aria-labelledby="immutability">
      <h3 id="immutability">Tag immutability</h3>
      <p class="muted">
        A tag a rule matches cannot be moved to another manifest or deleted once pushed. Patterns are globs
        over the whole repository name and the tag: <code>*</code> and <code>?</code> stay within a path
        segment, <code>**</code> crosses segments.
      </p>
      <ErrorText error={error ?? failure} />
      <table data-testid="immutability-rules">
        <thead>
          <tr>
            <th scope="col">Repositories</th>
            <th scope="col">Tags</th>
            <th scope="col">Added</th>
            {right.write && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {data?.items.map((rule) => (
            <tr key={rule.id}>
              <td>
                <code>{rule.repositoryPattern}</code>
              </td>
              <td>
                <code>{rule.tagPattern}</code>
              </td>
              <td>{when(rule.createdAt)}</td>
              {right.write && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete immutability rule ${rule.repositoryPattern} ${rule.tagPattern}`}
                    onClick={() =>
                      act(() =>
                        call('delete', '/api/v1/projects/{name}/immutability/{id}', {
                          path: { name, id: String(rule.id) },
                        }),
                      )
                    }
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No rules: every tag can move.</p>}
      {right.write && (
        <form
          class="inline"
          aria-label="New immutability rule"
          onSubmit={(event) => {
            event.preventDefault();
            const target = event.currentTarget;
            const form = new FormData(target);
            void act(async () => {
              await call('post', '/api/v1/projects/{name}/immutability', {
                path: { name },
                body: {
                  repositoryPattern: String(form.get('repositoryPattern') ?? '').trim(),
                  tagPattern: String(form.get('tagPattern') ?? '').trim(),
                },
              });
              target.reset();
            });
          }}
        >
          <label>
            Repositories <input name="repositoryPattern" defaultValue={`${name}/**`} required />
          </label>
          <label>
            Tags <input name="tagPattern" placeholder="v*" required size={10} />
          </label>
          <button type="submit">Add immutability rule</button>
        </form>
      )}
    </section>
  );
}

/**
 * A project's policies: quota, tag immutability, retention, scanning and signature trust. Each part is shown to
 * whom the server shows it, and offers changes only to whom it allows them.
 */
export function PoliciesPanel({ name, rights }: { name: string; rights: ProjectRights }) {
  return (
    <section aria-labelledby="policies" class="policies">
      <h2 id="policies">Policies</h2>
      <ProjectSettingsSection name={name} canChange={rights.retention.write} />
      {rights.quota.read && <QuotaSection name={name} right={rights.quota} />}
      {rights.immutability.read ? (
        <ImmutabilitySection name={name} right={rights.immutability} />
      ) : (
        <p class="muted">Tag immutability rules are shown to maintainers and project administrators.</p>
      )}
      {rights.retention.read && <RetentionSection name={name} right={rights.retention} />}
      {rights.scanning.read && <ScanningSection name={name} right={rights.scanning} />}
      {rights.trust.read && <TrustSection name={name} right={rights.trust} />}
    </section>
  );
}
