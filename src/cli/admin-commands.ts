import { type Command, Option } from 'commander';
import { connected, run } from './admin-kit.js';
import { auditCommand } from './audit-command.js';
import { gcCommands } from './gc-commands.js';
import { scrubCommands, webhookCommands } from './operations-commands.js';
import { projectCommands } from './project-commands.js';
import { replicationCommands } from './replication-commands.js';
import { robotCommands } from './robot-commands.js';
import { tokenCommands } from './token-commands.js';
import { userCommands } from './user-commands.js';

/**
 * The admin verbs (`berth user|project|robot|token|audit|gc …`, with `project quota|immutable|retention`): thin clients of a running server's /api/v1.
 *
 * Connection: `--server` (BERTH_SERVER, default http://127.0.0.1:5000) and Basic credentials from `--user` and
 * `--password` (BERTH_USER, BERTH_PASSWORD). They are accepted before the verb (`berth --user admin user list`)
 * or after it; on `user add` and `user passwd`, `--password` after the verb is the password being set, so log
 * in there with BERTH_PASSWORD or `berth --password … user add …`.
 *
 * Exit codes: 0 done; 1 the server refused (its message is printed) or cannot be reached; 2 usage errors.
 */

/** Adds the admin verbs and their connection flags to the `berth` program. */
export function registerAdminCommands(program: Command): void {
  // Flags before a verb belong to `berth` itself, flags after it to the verb: `user add --password` is the new
  // user's, `berth --password … user add` the caller's.
  program
    .enablePositionalOptions()
    .addOption(new Option('--server <url>', 'Berth server the admin commands talk to').env('BERTH_SERVER'))
    .addOption(new Option('-u, --user <name>', 'log in as (admin commands)').env('BERTH_USER'))
    .addOption(new Option('--password <password>', 'password, token or robot secret').env('BERTH_PASSWORD'));
  userCommands(program);
  projectCommands(program);
  robotCommands(program);
  tokenCommands(program);
  auditCommand(program);
  gcCommands(program, { connected, run });
  scrubCommands(program, { connected, run });
  webhookCommands(program, { connected, run });
  replicationCommands(program, { connected, run });
}
