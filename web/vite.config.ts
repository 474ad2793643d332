// The bench terminal and QA desk UI, built into web/dist and served by the API server at `/`.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Nothing inlined as data: URLs: the server's Content-Security-Policy allows only 'self'.
    assetsInlineLimit: 0,
    // The modulepreload polyfill would be an inline script in index.html (refused by the CSP).
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:3000', '/healthz': 'http://127.0.0.1:3000' } },
});
