import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { CopyButton, ErrorText } from '../components/ui';
import { when } from '../format';
import { useLoad } from '../use-load';

type Action = Schemas['RobotPermission']['actions'][number];
const OFFERED: Action[] = ['pull', 'push', 'delete'];

export function RobotsPanel({ name }: { name: string }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/robots', { query: { project: name, limit: '1000' } }),
    [name],
  );
  const [created, setCreated] = useState<Schemas['RobotSecret'] | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setFailure(undefined);
      reload();
    } catch (caught) {
      setFailure(caught);
    }
  };
  return (
    <section aria-labelledby="robots">
      <h2 id="robots">Robot accounts</h2>
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          const target = event.currentTarget;
          const form = new FormData(target);
          const actions = OFFERED.filter((action) => form.get(action) === 'on');
          try {
            setCreated(
              await call('post', '/api/v1/robots', {
                body: { name: String(form.get('robot')), permissions: [{ project: name, actions }] },
              }),
            );
            target.reset();
            setFailure(undefined);
            reload();
          } catch (caught) {
            setFailure(caught);
          }
        }}
      >
        <label>
          Name <input name="robot" required />
        </label>
        {OFFERED.map((action) => (
          <label key={action}>
            <input type="checkbox" name={action} defaultChecked={action === 'pull'} /> {action}
          </label>
        ))}
        <button type="submit">Create robot</button>
      </form>
      <ErrorText error={error ?? failure} />
      {created && (
        <div class="secret" role="status">
          <p>
            <strong>{created.login}</strong>: copy its secret now, it is shown only once.
          </p>
          <code data-testid="robot-secret">{created.secret}</code> <CopyButton text={created.secret} />
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Login</th>
            <th scope="col">Permissions</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((robot) => (
            <tr key={robot.name}>
              <td>robot${robot.name}</td>
              <td>{robot.permissions.map((p) => `${p.project}: ${p.actions.join(', ')}`).join('; ')}</td>
              <td>{robot.expiresAt === null ? 'never' : when(robot.expiresAt)}</td>
              <td class="actions">
                <button
                  type="button"
                  class="secondary"
                  aria-label={`New secret for robot$${robot.name}`}
                  onClick={() =>
                    act(async () => {
                      setCreated(
                        await call('post', '/api/v1/robots/{name}/secret', { path: { name: robot.name } }),
                      );
                    })
                  }
                >
                  New secret
                </button>{' '}
                <button
                  type="button"
                  class="danger"
                  aria-label={`Delete robot$${robot.name}`}
                  onClick={() => {
                    if (confirm(`Delete robot$${robot.name}? Its secret stops working at once.`)) {
                      void act(() => call('delete', '/api/v1/robots/{name}', { path: { name: robot.name } }));
                    }
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
