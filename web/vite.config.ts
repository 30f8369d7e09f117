import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';

// The build lands in dist/, which `ctms serve` serves (default --web).
// Hashed names under assets/ let the server mark them immutable.
export default defineConfig({
  plugins: [preact()],
  resolve: {
    // The package's exports map names its stylesheet only as a condition.
    alias: { 'frappe-gantt.css': fileURLToPath(new URL('node_modules/frappe-gantt/dist/frappe-gantt.css', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
    chunkSizeWarningLimit: 300,
  },
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.{ts,tsx}'],
  },
} as any);
