// One login with the portal (issue 18): a real CAS server (django-cas-server from
// PyPI, tests/cas/serve.py, in the interop suite's virtualenv) signs the user in; the
// chat, opened from the demo portal, signs in through it with no chat password typed;
// the portal's log-out (the CAS server's single log-out) ends the chat's session.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  TIMEOUT,
  befriend,
  eventually,
  freePort,
  launchBrowser,
  light,
  shot,
  signIn,
  startServer,
  treeItem,
  watch,
  writeTo,
} from './harness.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = process.env.CAUSERIE_PYTHON ?? join(REPO, '.venv', 'bin', 'python');
const CAS_PASSWORD = 'portal-Secret-1';

/** The test CAS server on `port`; resolves once it listens. */
function startCas(port) {
  if (!existsSync(PYTHON)) throw new Error(`no Python virtualenv at ${PYTHON} (scripts/test makes it)`);
  const data = mkdtempSync(join(tmpdir(), 'causerie-cas-'));
  const proc = spawn(
    PYTHON,
    [
      join(REPO, 'tests/cas/serve.py'),
      '--port',
      String(port),
      '--data',
      data,
      '--service',
      String.raw`^http://localhost:\d+/sso/cas`,
      '--user',
      `lea.martin:${CAS_PASSWORD}:lea.martin`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the CAS server did not start:\n${log}`)), 60_000);
    const read = (chunk) => {
      log += chunk;
      if (log.includes('CAS ready')) {
        clearTimeout(timer);
        resolve({ url: `http://localhost:${port}/cas`, stop: () => proc.kill('SIGTERM') });
      }
    };
    proc.stdout.on('data', read);
    proc.stderr.on('data', read);
    proc.on('exit', (code) => reject(new Error(`the CAS server exited (${code}):\n${log}`)));
  });
}

/** Fills and sends the CAS server's sign-in form (its labels follow the browser's language). */
async function casForm(page) {
  await page.locator('#id_username').fill('lea.martin');
  await page.locator('#id_password').fill(CAS_PASSWORD);
  await page.locator('#login_form').evaluate((form) => form.requestSubmit());
}

/** Signs into the portal (its CAS server's own page), as a pupil does in the morning. */
async function portalSignIn(page, cas) {
  await page.goto(`${cas.url}/login`);
  await casForm(page);
  await page.locator('#id_password').waitFor({ state: 'detached' });
  // The CAS server's own pages load scripts from a CDN this machine cannot reach: their
  // errors are not the chat's.
  page.errors.length = 0;
}

describe('one login with the portal (CAS)', () => {
  let cas;
  let server;
  let browser;

  before(async () => {
    cas = await startCas(await freePort());
    server = await startServer({
      extraToml: ({ url }) => `[cas]\nserver_url = "${cas.url}"\nservice_url = "${url}/sso/cas"\n`,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    cas?.stop();
  });

  it('lets a pupil signed into the portal chat without a chat password, and ends with the portal', async () => {
    // Hugo uses the chat with his password; Léa only ever signs into the portal.
    const hugo = await signIn(browser, server, 'hugo.bernard');

    // Léa opens the chat's own page: « Se connecter avec l'ENT » sends her to the portal's
    // sign-in, and she comes back signed in.
    const first = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1100, height: 700 } });
    first.setDefaultTimeout(TIMEOUT);
    const full = watch(await first.newPage());
    await full.goto(server.url);
    await full.getByRole('button', { name: "Se connecter avec l'ENT" }).click();
    await casForm(full);
    full.errors.length = 0;
    await full.getByRole('tab', { name: 'Contacts' }).waitFor();
    await full.getByRole('banner').getByText('MARTIN Léa').waitFor();
    await befriend(full, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    // « Se déconnecter » ends this browser's chat session; the portal's own stays.
    await full.getByRole('button', { name: 'Se déconnecter' }).click();
    await full.getByRole('button', { name: "Se connecter avec l'ENT" }).waitFor();
    const token = await full.evaluate(async () => (await fetch('/sso/token', { method: 'POST' })).status);
    assert.equal(token, 401, 'no more tokens after « Se déconnecter »');

    // Another computer: she signs into the portal, then opens its page. The chat's window
    // is loaded with the page and signs in through the portal by itself.
    const second = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 800 } });
    second.setDefaultTimeout(TIMEOUT);
    const portal = watch(await second.newPage());
    await portalSignIn(portal, cas);
    await portal.goto(`${server.url}/demo-portal`);
    const chatLink = portal.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: /^Chat/ });
    // Her hidden window signs in through the portal by itself: Hugo sees her online.
    await eventually(async () => {
      const { state } = await light(treeItem(hugo, 'MARTIN Léa'));
      if (state !== 'available') throw new Error(`Léa is ${state}`);
    });
    // Hugo writes while her window is still closed: the portal's « Chat » counts it.
    await writeTo(hugo, 'MARTIN Léa', 'Tu as vu le devoir de maths ?');
    const frame = portal.frameLocator('iframe[title="Chat"]');
    await eventually(async () => {
      const text = await chatLink.textContent();
      if (!/1/.test(text ?? '')) throw new Error(`no badge yet: ${text}`);
    });
    assert.match((await chatLink.textContent()) ?? '', /\(1 message non lu\)/);

    await chatLink.click();
    const win = portal.getByRole('dialog', { name: 'Chat' });
    await win.waitFor();
    await frame.getByText('Tu as vu le devoir de maths ?').waitFor();
    // No password was ever asked for in the chat.
    assert.equal(await frame.getByLabel('Mot de passe').count(), 0);
    await shot(portal, 'portal-sso');

    // She signs out of the portal in another tab (the CAS server's log-out): its single
    // log-out ends the chat in the window, which says so, and the badge goes.
    const elsewhere = watch(await second.newPage());
    await elsewhere.goto(`${cas.url}/logout`);
    await frame.getByText("Votre session de l'ENT est terminée. Reconnectez-vous à l'ENT pour retrouver le chat.").waitFor();
    assert.equal(await frame.getByRole('tab', { name: 'Contacts' }).count(), 0);
    const status = await portal.evaluate(async () => (await fetch('/sso/token', { method: 'POST' })).status);
    assert.equal(status, 401);
    // Hugo sees her go offline.
    await eventually(async () => {
      const { state } = await light(treeItem(hugo, 'MARTIN Léa'));
      if (state === 'available') throw new Error('Léa is still available');
    });

    for (const p of [hugo, full, portal, elsewhere]) assert.deepEqual(p.errors, []);
    await hugo.context().close();
    await first.close();
    await second.close();
  });

  it('signs the chat out with the portal’s own « Se déconnecter »', async () => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT);
    const portal = watch(await context.newPage());
    await portalSignIn(portal, cas);
    await portal.goto(`${server.url}/demo-portal`);
    const nav = portal.getByRole('navigation', { name: 'Navigation principale' });
    await nav.getByRole('link', { name: /^Chat/ }).click();
    const frame = portal.frameLocator('iframe[title="Chat"]');
    await frame.getByRole('banner').getByText('MARTIN Léa').waitFor();
    await nav.getByRole('link', { name: 'Se déconnecter' }).click();
    await portal.getByRole('dialog', { name: 'Chat' }).waitFor({ state: 'detached' });
    await eventually(async () => {
      const status = await portal.evaluate(async () => (await fetch('/sso/token', { method: 'POST' })).status);
      if (status !== 401) throw new Error(`token status ${status}`);
    });
    assert.deepEqual(portal.errors, []);
    await context.close();
  });
});
