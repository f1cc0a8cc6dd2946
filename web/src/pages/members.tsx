import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { ErrorText } from '../components/ui';
import { useLoad } from '../use-load';

const ROLES = ['guest', 'developer', 'maintainer', 'projectAdmin'] as const;

export function MembersPanel({ name }: { name: string }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/projects/{name}/members', { path: { name }, query: { limit: '1000' } }),
    [name],
  );
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
    <section aria-labelledby="members">
      <h2 id="members">Members</h2>
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const kind = String(form.get('kind')) as 'user' | 'group';
          const member = String(form.get('member'));
          const role = String(form.get('role')) as (typeof ROLES)[number];
          void act(() =>
            call('put', '/api/v1/projects/{name}/members/{kind}/{member}', {
              path: { name, kind, member },
              body: { role },
            }),
          );
        }}
      >
        <label>
          Kind
          <select name="kind">
            <option value="user">user</option>
            <option value="group">group</option>
          </select>
        </label>
        <label>
          Name <input name="member" required />
        </label>
        <label>
          Role
          <select name="role">
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Add member</button>
      </form>
      <ErrorText error={error ?? failure} />
      <table>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((member) => (
            <tr key={`${member.kind}:${member.name}`}>
              <td>{member.kind}</td>
              <td>{member.name}</td>
              <td>{member.role}</td>
              <td>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    act(() =>
                      call('delete', '/api/v1/projects/{name}/members/{kind}/{member}', {
                        path: { name, kind: member.kind, member: member.name },
                      }),
                    )
                  }
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
