import type { ComponentChildren } from 'preact';
import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { when } from '../format';
import type { Right } from '../permissions';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';

type Mode = Schemas['SignaturePolicy']['required'];

const MODES: [Mode, string][] = [
  ['off', 'off: serve every artifact'],
  ['warn', 'warn: serve unsigned artifacts, audit each pull'],
  ['enforce', 'enforce: refuse pulls without a valid signature by a trusted key'],
];

/** Repository globs one per line or comma-separated; none: the policy covers every repository. */
export function parseGlobs(text: string): string[] | null {
  const globs = text
    .split(/[\n,]/)
    .map((glob) => glob.trim())
    .filter((glob) => glob !== '');
  return globs.length === 0 ? null : globs;
}

function lines(text: FormDataEntryValue | null): string[] {
  return String(text ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** A row's Remove button. */
function RemoveButton({ label, onRemove }: { label: string; onRemove: () => void }) {
  return (
    <button type="button" class="danger" aria-label={label} onClick={onRemove}>
      Remove
    </button>
  );
}

/** A form folded under `summary`: its fields go to `add` (through `act`), and once added it is emptied. */
function AddForm({
  summary,
  label,
  submitLabel,
  act,
  add,
  children,
}: {
  summary: string;
  label: string;
  submitLabel: string;
  act: (work: () => Promise<unknown>) => Promise<void>;
  add: (form: FormData) => Promise<unknown>;
  children: ComponentChildren;
}) {
  return (
    <details>
      <summary>{summary}</summary>
      <form
        class="stacked"
        aria-label={label}
        onSubmit={(event) => {
          event.preventDefault();
          const target = event.currentTarget;
          const form = new FormData(target);
          void act(async () => {
            await add(form);
            target.reset();
          });
        }}
      >
        {children}
        <button type="submit">{submitLabel}</button>
      </form>
    </details>
  );
}

/** What a project trusts (keys, notation trust stores) and its signature policy (signatures.required). */
export function TrustSection({ name, right }: { name: string; right: Right }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}/trust', { path: { name } }),
    [name],
  );
  const { failure, act } = useAct(reload);
  const policy = data?.policy;
  return (
    <section aria-labelledby="trust">
      <h3 id="trust">Signatures</h3>
      <ErrorText error={error ?? failure} />
      {policy && (
        <form
          key={`${policy.required}:${policy.repositories?.join(',')}`}
          class="inline"
          aria-label="Signature policy"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            void act(() =>
              call('put', '/api/v1/projects/{name}/trust/policy', {
                path: { name },
                body: {
                  required: String(form.get('required')) as Mode,
                  repositories: parseGlobs(String(form.get('repositories') ?? '')),
                },
              }),
            );
          }}
        >
          <fieldset disabled={!right.write} class="inline">
            <label>
              Signatures required
              <select name="required" defaultValue={policy.required}>
                {MODES.map(([mode, label]) => (
                  <option key={mode} value={mode}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              In repositories{' '}
              <input
                name="repositories"
                defaultValue={policy.repositories?.join(', ') ?? ''}
                placeholder="every one"
              />
            </label>
            {right.write && <button type="submit">Save signature policy</button>}
          </fieldset>
        </form>
      )}
      <h4>Trusted keys (cosign, sigstore, skopeo)</h4>
      <table data-testid="trusted-keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Fingerprint</th>
            <th scope="col">Added</th>
            {right.write && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {data?.keys.map((key) => (
            <tr key={key.id}>
              <td>{key.name}</td>
              <td>
                <code>{key.fingerprint}</code>
              </td>
              <td>{when(key.createdAt)}</td>
              {right.write && (
                <td>
                  <RemoveButton
                    label={`Stop trusting key ${key.name}`}
                    onRemove={() =>
                      act(() =>
                        call('delete', '/api/v1/projects/{name}/trust/keys/{id}', {
                          path: { name, id: String(key.id) },
                        }),
                      )
                    }
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.keys.length === 0 && <p class="muted">No trusted keys.</p>}
      {right.write && (
        <AddForm
          summary="Trust a key…"
          label="Trust a key"
          submitLabel="Trust key"
          act={act}
          add={(form) =>
            call('post', '/api/v1/projects/{name}/trust/keys', {
              path: { name },
              body: {
                name: String(form.get('keyName') ?? '').trim(),
                publicKeyPem: String(form.get('pem') ?? ''),
              },
            })
          }
        >
          <label>
            Key name <input name="keyName" required placeholder="ci" />
          </label>
          <label>
            Public key (PEM)
            <textarea name="pem" required rows={4} cols={64} placeholder="-----BEGIN PUBLIC KEY-----" />
          </label>
        </AddForm>
      )}
      <h4>Notary Project trust stores</h4>
      <table data-testid="notation-stores">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Root certificates</th>
            <th scope="col">Trusted identities</th>
            {right.write && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {data?.notation.map((store) => (
            <tr key={store.id}>
              <td>{store.name}</td>
              <td>{store.certificates.map((certificate) => certificate.subject).join('; ')}</td>
              <td>{store.trustedIdentities.join('; ')}</td>
              {right.write && (
                <td>
                  <RemoveButton
                    label={`Stop trusting store ${store.name}`}
                    onRemove={() =>
                      act(() =>
                        call('delete', '/api/v1/projects/{name}/trust/notation/{id}', {
                          path: { name, id: String(store.id) },
                        }),
                      )
                    }
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.notation.length === 0 && <p class="muted">No notation trust stores.</p>}
      {right.write && (
        <AddForm
          summary="Add a notation trust store…"
          label="Add a notation trust store"
          submitLabel="Add trust store"
          act={act}
          add={(form) =>
            call('post', '/api/v1/projects/{name}/trust/notation', {
              path: { name },
              body: {
                name: String(form.get('storeName') ?? '').trim(),
                rootCertificatesPem: [String(form.get('certificates') ?? '')],
                trustedIdentities: lines(form.get('identities')),
              },
            })
          }
        >
          <label>
            Store name <input name="storeName" required />
          </label>
          <label>
            Root certificates (PEM)
            <textarea
              name="certificates"
              required
              rows={4}
              cols={64}
              placeholder="-----BEGIN CERTIFICATE-----"
            />
          </label>
          <label>
            Trusted identities (one a line)
            <textarea
              name="identities"
              required
              rows={2}
              cols={64}
              placeholder="x509.subject: C=US, O=Acme, CN=ci"
            />
          </label>
        </AddForm>
      )}
    </section>
  );
}
