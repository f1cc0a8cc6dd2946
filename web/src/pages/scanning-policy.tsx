import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import type { Right } from '../permissions';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';

type Severity = NonNullable<Schemas['ScanSettings']['blockSeverity']>;
const SEVERITIES: Severity[] = ['Low', 'Medium', 'High', 'Critical'];

const SWITCHES = [
  ['scanOnPush', 'Scan images when they are pushed'],
  ['blockUnscanned', 'Refuse pulls of images without a finished scan'],
  ['blockRoot', 'Refuse pulls of images that run as root'],
  ['blockSsh', 'Refuse pulls of images with an SSH server'],
] as const;

/** A project's vulnerability scanning: scan on push and the pull-time gates (severity, root, SSH, unscanned). */
export function ScanningSection({ name, right }: { name: string; right: Right }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}/scanning', { path: { name } }),
    [name],
  );
  const { failure, act } = useAct(reload);
  return (
    <section aria-labelledby="scanning">
      <h3 id="scanning">Vulnerability scanning</h3>
      <ErrorText error={error ?? failure} />
      {data && (
        <form
          key={JSON.stringify(data)}
          class="settings"
          aria-label="Scanning settings"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            const severity = String(form.get('blockSeverity') ?? '');
            void act(() =>
              call('patch', '/api/v1/projects/{name}/scanning', {
                path: { name },
                body: {
                  scanOnPush: form.get('scanOnPush') === 'on',
                  blockUnscanned: form.get('blockUnscanned') === 'on',
                  blockRoot: form.get('blockRoot') === 'on',
                  blockSsh: form.get('blockSsh') === 'on',
                  blockSeverity: severity === '' ? null : (severity as Severity),
                },
              }),
            );
          }}
        >
          <fieldset disabled={!right.write}>
            <legend class="muted">
              {right.write ? 'Settings' : 'Settings (project administrators change them)'}
            </legend>
            {SWITCHES.map(([id, label]) => (
              <label key={id}>
                <input type="checkbox" name={id} defaultChecked={data[id]} /> {label}
              </label>
            ))}
            <label>
              Refuse pulls of images with a vulnerability of severity
              <select name="blockSeverity" defaultValue={data.blockSeverity ?? ''}>
                <option value="">(no severity gate)</option>
                {SEVERITIES.map((severity) => (
                  <option key={severity} value={severity}>
                    {severity} or above
                  </option>
                ))}
              </select>
            </label>
            {right.write && <button type="submit">Save scanning settings</button>}
          </fieldset>
        </form>
      )}
      {data && (
        <p class="muted">
          {data.allowlist.length === 0
            ? 'No advisories allowed past the gate.'
            : `Allowed past the gate: ${data.allowlist.map((entry) => entry.id).join(', ')}.`}{' '}
          Scanner: {data.adapter ? `adapter at ${data.adapter.url}` : 'built in'}.
        </p>
      )}
    </section>
  );
}
