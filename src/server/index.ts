export { type Berth, createBerth } from './app.js';
export { openBlobStore } from './backends.js';
