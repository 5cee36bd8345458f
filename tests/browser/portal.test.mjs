// The demo portal (/demo-portal): « Chat » in the « Communication » section
// opens the client in a floating window (embed.js); the session lives on
// while the window is reduced.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, launchBrowser, shot, startServer, watch } from './harness.mjs';

describe('the demo portal', () => {
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

  it('opens the chat in a floating window, keeps it while reduced, and closes it', async () => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    await page.goto(`${server.url}/demo-portal`);
    const chatLink = page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Chat' });
    await chatLink.click();
    const win = page.getByRole('dialog', { name: 'Chat' });
    await win.waitFor();
    const frame = page.frameLocator('iframe[title="Chat"]');
    await frame.getByRole('textbox', { name: 'Identifiant' }).fill('lea.martin');
    await frame.getByLabel('Mot de passe').fill('demo');
    await frame.getByRole('button', { name: 'Se connecter' }).click();
    await frame.getByRole('banner').getByText('MARTIN Léa').waitFor();
    await shot(page, 'portal');

    await win.getByRole('button', { name: 'Réduire' }).click();
    await win.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Chat', 'focus back on the link');
    await chatLink.click();
    await win.waitFor();
    await frame.getByRole('banner').getByText('MARTIN Léa').waitFor();
    await win.getByRole('button', { name: 'Fermer' }).click();
    await win.waitFor({ state: 'detached' });
    assert.deepEqual(page.errors, []);
  });
});
