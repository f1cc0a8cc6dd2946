export { type Berth, createBerth } from './app.js';
