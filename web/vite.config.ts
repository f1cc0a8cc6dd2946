import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The console builds to dist/web, which Berth serves at / (src/server/console). Hashed names under assets/;
// no inline script anywhere (the page's CSP allows scripts from the origin only).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:5000' } },
});
