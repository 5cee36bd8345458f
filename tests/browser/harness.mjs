// Shared by the browser tests: start a real Causerie with the demo school on
// free ports, drive Debian's Chromium with playwright-core, log users in.
//
// - `startServer({ extraToml })` writes a config (plus `extraToml`, e.g. a
//   `[rates.pupils]` table) into a fresh temp dir and runs
//   `target/debug/causerie --config FILE serve --demo` (CAUSERIE_BIN picks
//   another binary), waits for /healthz, and returns { url, stop(), logTail() }.
// - `launchBrowser()` starts /usr/bin/chromium headless (CHROMIUM picks
//   another) with the flags this machine needs; playwright gives every launch
//   a fresh, empty user-data-dir. Never downloads a browser.
// - `signIn(browser, server, login)` opens a new browser context (its own
//   cookies and storage: one user each) and signs in through the login page.
// - `shot(page, name)` saves a screenshot: into docs/screenshots/ when
//   UPDATE_SCREENSHOTS=1 (the README shows them), else into
//   tests/browser/output/ so that a test run leaves the tree unchanged.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OUTPUT = join(REPO, 'tests/browser/output');
const BINARY = process.env.CAUSERIE_BIN ?? join(REPO, 'target/debug/causerie');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Every wait of the suite; a broken server fails rather than hangs. */
export const TIMEOUT = 10_000;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function portOpen(port) {
  return new Promise((res) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a server; picks new ports when another process took one between
 *  choosing it and binding it (free ports are only free when looked at). */
export async function startServer({ extraToml = '' } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(extraToml);
    } catch (e) {
      if (attempt >= 3 || !String(e.message).includes('Address already in use')) throw e;
    }
  }
}

async function startServerOnce(extraToml) {
  if (!existsSync(BINARY)) {
    throw new Error(`server binary not found: ${BINARY} (run \`cargo build -p causerie\`)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'causerie-browser-'));
  const [c2s, c2sTls, http] = [await freePort(), await freePort(), await freePort()];
  const config = join(root, 'causerie.toml');
  // `extraToml` may depend on the ports chosen (e.g. a URL of this server).
  const extra = typeof extraToml === 'function' ? extraToml({ url: `http://localhost:${http}`, http }) : extraToml;
  writeFileSync(
    config,
    [
      'domain = "localhost"',
      `data_dir = "${join(root, 'data')}"`,
      '',
      '[listen]',
      `c2s = "127.0.0.1:${c2s}"`,
      `c2s_tls = "127.0.0.1:${c2sTls}"`,
      `http = "127.0.0.1:${http}"`,
      '',
      '[auth]',
      'failure_delay_ms = 50',
      '',
      // Tests run at any hour: no default quiet hours unless a test sets its own.
      ...(extra.includes('[quiet_hours]') ? [] : ['[quiet_hours]', 'default = false', '']),
      extra,
    ].join('\n'),
  );
  const logPath = join(root, 'server.log');
  const env = { ...process.env, RUST_BACKTRACE: '1' };
  delete env.CAUSERIE_CONFIG;
  let proc;
  let exited = null;
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-20_000);
    } catch {
      return '(no server log)';
    }
  };
  const run = async () => {
    const log = openSync(logPath, 'a');
    exited = null;
    proc = spawn(BINARY, ['--config', config, 'serve', '--demo'], {
      cwd: root,
      env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    proc.on('exit', (code) => {
      exited = code ?? -1;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new Error(`server exited with ${exited} during start-up:\n${logTail()}`);
      if ((await portOpen(c2s)) && (await portOpen(http))) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`server did not start within 30 s:\n${logTail()}`);
      }
      await sleep(50);
    }
  };
  const stop = async () => {
    if (exited !== null) return;
    proc.kill('SIGTERM');
    const t0 = Date.now();
    while (exited === null && Date.now() - t0 < 10_000) await sleep(50);
    if (exited === null) {
      proc.kill('SIGKILL');
      while (exited === null) await sleep(50);
    }
  };
  await run();
  return {
    url: `http://localhost:${http}`,
    domain: 'localhost',
    config,
    c2sPort: c2s,
    httpPort: http,
    root,
    logTail,
    stop,
    /** Stops the server and starts it again on the same ports and data. */
    async restart() {
      await stop();
      await run();
    },
  };
}

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A browser context of its own for one user, signed in. Page errors are
 * collected in `page.errors` (each test checks there are none).
 */
export async function signIn(
  browser,
  server,
  login,
  { password = 'demo', locale = 'fr-FR', axe = false, permissions = [], init, viewport = { width: 1100, height: 700 }, clock = false } = {},
) {
  // axe: the pages' Content-Security-Policy would forbid injecting axe-core.
  const context = await browser.newContext({ locale, bypassCSP: axe, viewport, permissions });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  // init: a script run in every page before the client's (e.g. a spy on Notification).
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  watch(page);
  // clock: Playwright's clock, flowing as usual until a test jumps it (page.clock.fastForward).
  if (clock) await page.clock.install();
  await page.goto(server.url);
  await page.getByLabel('Identifiant').fill(login);
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
  await page.getByRole('tab', { name: 'Contacts' }).waitFor();
  return page;
}

/** Collects uncaught errors and dialogs (alert() from an XSS would land here). */
export function watch(page) {
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    page.errors.push(`dialog: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return page;
}

export async function shot(page, name) {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? join(REPO, 'docs/screenshots') : OUTPUT;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The tree item of a contact or category, by its name. A contact's visible
 * « Invitation en attente » / « Invitation refusée », and its unread count
 * (« 2 non lu(s) »), are part of its name.
 */
export function treeItem(page, name) {
  const re = new RegExp(`^${escapeRe(name)}( Invitation (en attente|refusée))?( \\d+ non lu\\(s\\))?$`);
  return page.getByRole('tree').getByRole('treeitem', { name: re });
}

/** The label of the category row above a contact's row (the tree is flat, with aria-level). */
export async function categoryOf(item) {
  return item.evaluate((el) => {
    for (let e = el.previousElementSibling; e; e = e.previousElementSibling) {
      if (e.getAttribute('aria-level') === '2') return e.querySelector('.label')?.textContent;
    }
    return null;
  });
}

/** Opens the context menu of a tree item with a right-click. */
export async function rightClick(page, name) {
  await treeItem(page, name).click({ button: 'right' });
  return page.getByRole('menu');
}

/** Retries `check` (which throws while not yet true) until it passes or TIMEOUT. */
export async function eventually(check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

/** The colour light of a contact row: { state, colour } (colour as CSS rgb()). */
export async function light(item) {
  return item.evaluate((el) => {
    const dot = el.querySelector('.dot');
    return { state: el.dataset.state, colour: dot ? getComputedStyle(dot).backgroundColor : null };
  });
}

export const COLOURS = {
  available: 'rgb(30, 126, 52)',
  away: 'rgb(194, 94, 0)',
  dnd: 'rgb(197, 34, 31)',
  offline: 'rgb(110, 119, 129)',
};

/**
 * Makes two signed-in users mutual contacts through the screens: the
 * requester adds the other from « Tous mes contacts » (« Autres contacts »),
 * the other accepts in « Mes demandes ». Names are « NOM Prénom ».
 */
export async function befriend(requester, accepter, { requesterName, accepterName, search }) {
  await (await rightClick(requester, 'Tous mes contacts')).getByRole('menuitem', { name: 'Ajouter contacts' }).click();
  const dialog = requester.getByRole('dialog', { name: 'Ajouter contacts' });
  await dialog.getByRole('searchbox', { name: 'Rechercher' }).fill(search);
  await dialog.getByRole('radio', { name: new RegExp(escapeRe(accepterName)) }).check();
  await dialog.getByRole('button', { name: 'Ajouter le contact' }).click();
  await dialog.waitFor({ state: 'detached' });
  await accepter.getByRole('tab', { name: /^Mes demandes/ }).click();
  await accepter
    .getByRole('listitem')
    .filter({ hasText: requesterName })
    .getByRole('button', { name: 'Accepter' })
    .click();
  await accepter.getByRole('tab', { name: 'Contacts' }).click();
  for (const [page, name] of [
    [requester, accepterName],
    [accepter, requesterName],
  ]) {
    await eventually(async () => {
      const { state } = await light(treeItem(page, name));
      if (state !== 'available') throw new Error(`${name} is ${state}`);
    });
  }
}

/** Runs the causerie command line on a started server's config and data (e.g. `rules set`). */
export function cli(server, ...args) {
  const r = spawnSync(BINARY, ['--config', server.config, ...args], { encoding: 'utf8', timeout: TIMEOUT });
  if (r.status !== 0) throw new Error(`causerie ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core's WCAG 2.1 A/AA rules on the page (signed in with `axe: true`); fails with the violations. */
export async function checkA11y(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  const problems = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
  if (problems.length > 0) throw new Error(`${what}:\n${problems.join('\n')}`);
}

/**
 * Headless Chromium never hides a page (another tab in front, a minimised
 * window: `document.visibilityState` stays 'visible'), so the suite emulates
 * it in the page: the Page Visibility API's getters answer `hidden` and a
 * `visibilitychange` is fired, as a browser does.
 */
export async function setPageHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** The visible badge of a tree item (its unread count), or null. */
export async function badgeOf(item) {
  return item.evaluate((el) => el.querySelector('.badge')?.textContent ?? null);
}

/** Writes `text` to the contact `name` from the contact tree (Enter on an available contact). */
export async function writeTo(page, name, text) {
  await page.getByRole('treeitem', { name, exact: true }).focus();
  await page.keyboard.press('Enter');
  const editor = page.getByRole('tabpanel', { name }).getByRole('textbox', { name: 'Message' });
  await editor.fill(text);
  await editor.press('Enter');
}
