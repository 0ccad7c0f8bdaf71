import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The renderer only. Relative base so the same build loads from app://workstation (Electron) and the browser shell.
export default defineConfig({
  root: 'renderer',
  base: './',
  publicDir: 'public',
  plugins: [react()],
  resolve: { alias: { events: 'events/' } },
  worker: { format: 'es' },
  build: {
    outDir: '../app/renderer',
    emptyOutDir: true,
    target: 'esnext',
    chunkSizeWarningLimit: 8000,
    modulePreload: { polyfill: false },
  },
});
