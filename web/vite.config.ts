// Builds the web client into dist/, which the Rust binary embeds (crates/web).
//
// Entries: index.html (the client, full page or inside the portal's floating
// window), admin.html (the admin console, served at /admin), demo-portal.html
// (a pretend ENT page) and embed.js (the script a portal adds; its name stays
// fixed so that portals can link to it).
//
// `npm test` runs the unit tests (vitest, src/**/*.test.ts, in jsdom).
//
// `npm run dev` serves the sources with hot reload and forwards the XMPP and
// configuration endpoints to a Causerie running on localhost:5280.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const backend = process.env.CAUSERIE_HTTP ?? 'http://127.0.0.1:5280';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    rollupOptions: {
      input: {
        index: 'index.html',
        'demo-portal': 'demo-portal.html',
        admin: 'admin.html',
        embed: 'src/embed/embed.ts',
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'embed' ? 'embed.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  test: {
    environment: 'jsdom',
    // Strophe's browser build (its Node one wants xmldom and ws): the tests check what it sends.
    alias: { 'strophe.js': fileURLToPath(new URL('node_modules/strophe.js/dist/strophe.esm.js', import.meta.url)) },
    include: ['src/**/*.test.ts'],
  },
  server: {
    proxy: {
      '/xmpp-websocket': { target: backend.replace(/^http/, 'ws'), ws: true },
      '/client.json': backend,
      '/.well-known': backend,
      '/admin/api': backend,
    },
  },
});
