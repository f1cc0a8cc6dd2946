import type { FileAnalyzer } from '../../analyzer.js';

/** Binaries whose presence means an SSH server can be started in the container. */
const SSH_SERVER_BINARIES = ['/usr/sbin/sshd', '/usr/bin/sshd', '/usr/sbin/dropbear', '/usr/bin/dropbear'];

export const sshServerAnalyzer: FileAnalyzer = {
  name: 'ssh-server',
  match: (entry) => SSH_SERVER_BINARIES.includes(entry.path) && { read: 'stream' },
  async analyze(entry, { stream }) {
    stream?.destroy(); // its presence is the fact; the bytes are not needed
    return { notes: [`file ${entry.path}`] };
  },
};
