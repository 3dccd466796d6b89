import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

/** The API server `npm run dev` starts next to Vite. */
const DEV_API = process.env.LIVETABLE_DEV_API ?? 'http://127.0.0.1:8089';

export default defineConfig({
  root: 'web',
  // Vite's root is web/, so point the plugin at the shared config explicitly.
  plugins: [svelte({ configFile: '../svelte.config.js' })],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: { '/api': { target: DEV_API } },
  },
});
