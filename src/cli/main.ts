#!/usr/bin/env node
// The `berth` command. `berth serve` loads only serve-command.ts up front: the primary of `serve --workers N`
// then migrates and forks without loading the server or the other commands (seconds of module loading on a
// busy machine, before any worker could start), and a worker or a single process loads the server to serve.
// Every other command loads the whole CLI (program.ts).
if (process.argv[2] === 'serve') {
  const { exitOnError, serveCommand } = await import('./serve-command.js');
  const { Command } = await import('commander');
  const program = new Command().name('berth');
  serveCommand(program);
  await program.parseAsync().catch(exitOnError);
} else {
  await import('./program.js');
}
