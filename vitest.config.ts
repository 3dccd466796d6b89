import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [svelte()],
  test: {
    include: ['server/**/*.test.ts', 'web/src/**/*.test.ts', 'test-support/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
});
