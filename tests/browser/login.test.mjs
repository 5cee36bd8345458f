// The login page: labels « Identifiant », « Mot de passe », « Se connecter »;
// a wrong password (or an unknown user) is told in French; everything by the
// keyboard; the English catalogue for an English browser; signing out.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, launchBrowser, shot, startServer, watch } from './harness.mjs';

describe('login page', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function open(locale = 'fr-FR') {
    const context = await browser.newContext({ locale, viewport: { width: 1100, height: 700 } });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    await page.goto(server.url);
    return page;
  }

  it('a wrong password, or an unknown user, says so in French', async () => {
    const page = await open();
    await page.getByRole('heading', { name: 'Connexion au chat' }).waitFor();
    await shot(page, 'login');
    for (const [id, password] of [
      ['lea.martin', 'pas-le-bon'],
      ['personne', 'demo'],
    ]) {
      await page.getByRole('textbox', { name: 'Identifiant' }).fill(id);
      await page.getByLabel('Mot de passe').fill(password);
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await page.getByRole('alert').getByText('Identifiant ou mot de passe incorrect.').waitFor();
      assert.equal(await page.getByRole('tab', { name: 'Contacts' }).count(), 0);
    }
    // Empty fields are caught before asking the server.
    await page.getByRole('textbox', { name: 'Identifiant' }).fill('');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('alert').getByText('Saisissez votre identifiant et votre mot de passe.').waitFor();
    assert.deepEqual(page.errors, []);
  });

  it('signs in with the keyboard only (full JID accepted), and signs out', async () => {
    const page = await open();
    // The identifier field has focus when the page opens.
    await page.getByRole('textbox', { name: 'Identifiant' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-id');
    await page.keyboard.type('anne.durand@localhost');
    await page.keyboard.press('Tab');
    await page.keyboard.type('demo');
    await page.keyboard.press('Enter');
    await page.getByRole('banner').getByText('DURAND Anne').waitFor();
    await page.waitForFunction((t) => document.title === t, 'Chat — DURAND Anne', { timeout: 5000 }).catch(() => {});
    assert.equal(await page.title(), 'Chat — DURAND Anne');
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await page.getByRole('button', { name: 'Se connecter' }).waitFor();
    assert.deepEqual(page.errors, []);
  });

  it('an English browser gets the English catalogue', async () => {
    const page = await open('en-GB');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.getByRole('textbox', { name: 'Username' }).fill('hugo.bernard');
    await page.getByLabel('Password').fill('nope');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Wrong username or password.').waitFor();
    await page.getByLabel('Password').fill('demo');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('tab', { name: 'My requests' }).waitFor();
    await page.getByRole('treeitem', { name: 'All my contacts' }).waitFor();
    await page.getByRole('button', { name: 'State: Available' }).waitFor();
    await page.getByRole('button', { name: 'My conversations' }).click();
    const rooms = page.getByRole('dialog', { name: 'My conversations' });
    await rooms.getByRole('status').getByText('You belong to no other conversation.').waitFor();
    await rooms.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual(page.errors, []);
  });
});
