import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { useSession } from '../session';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';

/** `10.0.0.0/8, 192.168.1.7` → a push allowlist; empty → null (anywhere). */
export function parseAllowlist(text: string): string[] | null {
  const entries = text
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  return entries.length === 0 ? null : entries;
}

/**
 * The upstream of a pull-through cache from a form's `proxyUrl`, `proxyUsername`, `proxyPassword` fields;
 * undefined when no URL is given.
 */
export function proxyInput(form: FormData): Schemas['ProxyUpstreamInput'] | undefined {
  const url = String(form.get('proxyUrl') ?? '').trim();
  if (url === '') return undefined;
  const username = String(form.get('proxyUsername') ?? '').trim();
  const password = String(form.get('proxyPassword') ?? '');
  return { url, ...(username && { username }), ...(password && { password }) };
}

/**
 * What to send as `proxy` when saving: undefined leaves the cache as it is (same URL and user, no new password:
 * the stored password stays), null ends it (URL emptied), else the new upstream.
 */
export function proxyChange(
  current: Schemas['ProxyUpstream'] | null | undefined,
  wanted: Schemas['ProxyUpstreamInput'] | undefined,
): Schemas['ProxyUpstreamInput'] | null | undefined {
  if (wanted === undefined) return current ? null : undefined;
  const same =
    current?.url === wanted.url &&
    (wanted.username ?? null) === current.username &&
    wanted.password === undefined;
  return same ? undefined : wanted;
}

/** The upstream fields of a form (system administrators: a pull-through cache of another registry). */
export function ProxyFields({ upstream }: { upstream?: Schemas['ProxyUpstream'] | null | undefined }) {
  return (
    <fieldset class="inline">
      <legend>Pull-through cache of (optional; anonymous unless a user is given)</legend>
      <label>
        Upstream URL{' '}
        <input
          name="proxyUrl"
          type="url"
          size={30}
          placeholder="https://registry-1.docker.io"
          defaultValue={upstream?.url ?? ''}
        />
      </label>
      <label>
        User <input name="proxyUsername" autocomplete="off" defaultValue={upstream?.username ?? ''} />
      </label>
      <label>
        Password{' '}
        <input
          name="proxyPassword"
          type="password"
          autocomplete="off"
          placeholder={upstream?.credentials ? 'unchanged' : 'none'}
        />
      </label>
    </fieldset>
  );
}

/**
 * Whether the project is public, where pushes may come from, and (system administrators) what it caches: read by
 * members, changed by project administrators (`canChange`).
 */
export function ProjectSettingsSection({ name, canChange }: { name: string; canChange: boolean }) {
  const { session } = useSession();
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}', { path: { name } }),
    [name],
  );
  const { failure, act } = useAct(reload);
  if (!data) return <ErrorText error={error} />;
  const summary = (
    <p data-testid="project-settings">
      {data.public ? 'Public: anyone may pull.' : 'Private: members only.'}{' '}
      {data.pushAllowlist === null
        ? 'Pushes and deletes from anywhere.'
        : `Pushes and deletes only from ${data.pushAllowlist.join(', ')}.`}{' '}
      {data.proxy ? `A pull-through cache of ${data.proxy.url}.` : ''}
    </p>
  );
  return (
    <section aria-labelledby="settings">
      <h3 id="settings">Settings</h3>
      {summary}
      <ErrorText error={error ?? failure} />
      {canChange && (
        <form
          key={JSON.stringify(data)}
          class="panel"
          aria-label="Project settings"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            const upstream = proxyInput(form);
            void act(() =>
              call('patch', '/api/v1/projects/{name}', {
                path: { name },
                body: {
                  public: form.get('public') === 'on',
                  pushAllowlist: parseAllowlist(String(form.get('pushAllowlist') ?? '')),
                  // Only system administrators change what a project caches; an emptied URL ends the caching.
                  ...(session.systemAdmin && { proxy: proxyChange(data.proxy, upstream) }),
                },
              }),
            );
          }}
        >
          <div class="inline">
            <label>
              <input type="checkbox" name="public" defaultChecked={data.public} /> public
            </label>
            <label>
              Push allowlist{' '}
              <input
                name="pushAllowlist"
                size={30}
                placeholder="anywhere (e.g. 10.0.0.0/8)"
                defaultValue={data.pushAllowlist?.join(', ') ?? ''}
              />
            </label>
          </div>
          {session.systemAdmin && <ProxyFields upstream={data.proxy} />}
          <button type="submit">Save settings</button>
        </form>
      )}
    </section>
  );
}
