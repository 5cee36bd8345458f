// Converse.js 14 (npm's `converse.js`, installed in tests/browser/converse/ by
// `npm ci` there; never a CDN) served on a local page that points it at a test
// server's WebSocket, `ws://localhost:PORT/xmpp-websocket`.
//
// - `CONVERSE_DIST`: the installed dist/ directory; `converseInstalled()` says
//   whether it is there (the tests skip with a reason when it is not).
// - `serveConverse(server)`: a static HTTP server on a free port serving
//   `/` (the page, Converse in fullscreen mode with the login form) and
//   `/dist/…` (Converse's files: the unminified converse.js, so that a page
//   error's stack names Converse's functions); returns { url, close() }.
// - `openConverse(browser, page, { locale })`: a browser context of its own
//   (one user each) on that page, page errors collected in `page.errors`.
// - `converseLogin(page, jid, password)`: fills Converse's login form as a user
//   does (French labels: the page's browser prefers French).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { REPO, TIMEOUT, watch } from './harness.mjs';

export const CONVERSE_DIR = join(REPO, 'tests/browser/converse');
export const CONVERSE_DIST = join(CONVERSE_DIR, 'node_modules/converse.js/dist');

export function converseInstalled() {
  return existsSync(join(CONVERSE_DIST, 'converse.js'));
}

/** The installed Converse's version (from its package.json). */
export function converseVersion() {
  return JSON.parse(readFileSync(join(CONVERSE_DIST, '../package.json'), 'utf8')).version;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
};

function page(server) {
  const settings = {
    websocket_url: `ws://localhost:${server.httpPort}/xmpp-websocket`,
    discover_connection_methods: false,
    view_mode: 'fullscreen',
    assets_path: '/dist/',
    allow_registration: false,
    auto_reconnect: true,
    play_sounds: false,
    show_desktop_notifications: false,
    loglevel: 'warn',
    // a new pupil's Converse: nothing remembered between test runs
    persistent_store: 'sessionStorage',
  };
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Converse.js — Causerie</title>
<link rel="stylesheet" href="/dist/converse.min.css">
<script type="module" src="/dist/converse.js"></script>
</head>
<body class="converse-fullscreen">
<noscript>Converse.js needs JavaScript.</noscript>
<script type="module">converse.initialize(${JSON.stringify(settings)});</script>
</body>
</html>
`;
}

export function serveConverse(server) {
  const root = resolve(CONVERSE_DIST);
  const http = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      res.end(page(server));
      return;
    }
    if (path.startsWith('/dist/')) {
      const file = normalize(join(root, path.slice('/dist/'.length)));
      if (file.startsWith(root) && existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(readFileSync(file));
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  return new Promise((res) => {
    http.listen(0, '127.0.0.1', () => {
      const { port } = http.address();
      res({
        url: `http://localhost:${port}/`,
        close: () => new Promise((r) => http.close(() => r())),
      });
    });
  });
}

export async function openConverse(browser, site, { locale = 'fr-FR' } = {}) {
  const context = await browser.newContext({ locale, viewport: { width: 1200, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  watch(page);
  await page.goto(site.url);
  return page;
}

export async function converseLogin(page, jid, password) {
  await page.getByRole('textbox', { name: 'Adresse XMPP:' }).fill(jid);
  await page.getByRole('textbox', { name: 'Mot de passe' }).fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
}
