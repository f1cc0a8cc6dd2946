// Makes `npx berth` work inside this checkout: npm links the bins of dependencies, not of the project itself.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';

const target = 'dist/cli/main.js';
chmodSync(target, 0o755);
mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/berth', { force: true });
symlinkSync(`../../${target}`, 'node_modules/.bin/berth');
