export { type Berth, type BerthOptions, createBerth } from './app.js';
export { openBlobStore } from './backends.js';
