// Writing to an offline contact: the server keeps the messages and delivers
// them at the contact's next login. BERNARD Hugo signs out; MARTIN Léa sees
// him « Hors ligne », « Écrire en privé » stays enabled, the conversation
// says he is offline and when he will read; Hugo signs in again and reads
// the message, with the time it was written.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, eventually, launchBrowser, light, rightClick, shot, signIn, startServer, treeItem } from './harness.mjs';

describe('offline contacts', () => {
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

  it('« Écrire en privé » to an offline contact, delivered at his next login', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    let hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await hugo.getByRole('button', { name: 'Se déconnecter' }).click();
    await hugo.context().close();
    await eventually(async () => assert.equal((await light(treeItem(lea, 'BERNARD Hugo'))).state, 'offline'));

    const menu = await rightClick(lea, 'BERNARD Hugo');
    const item = menu.getByRole('menuitem', { name: 'Écrire en privé' });
    assert.equal(await item.getAttribute('aria-disabled'), null, 'enabled for an offline contact');
    assert.equal(await menu.getByRole('menuitem', { name: 'Commencer conversation' }).getAttribute('aria-disabled'), 'true');
    await item.click();
    const panel = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await panel.locator('.conv-state').getByText('Hors ligne').waitFor();
    await panel
      .getByText('BERNARD Hugo est hors ligne : tes messages lui seront remis à sa prochaine connexion.')
      .waitFor();
    const editor = panel.getByRole('textbox', { name: 'Message' });
    await editor.fill('Tu as oublié ta trousse en salle 12.');
    await editor.press('Enter');
    await panel.locator('.line-out .text').getByText('Tu as oublié ta trousse en salle 12.').waitFor();
    await shot(lea, 'offline');
    await checkA11y(lea, 'a conversation with an offline contact');

    hugo = await signIn(browser, server, 'hugo.bernard');
    const got = hugo.getByRole('tabpanel', { name: 'MARTIN Léa' });
    await got.locator('.line-in .text').getByText('Tu as oublié ta trousse en salle 12.').waitFor();
    await eventually(async () => assert.equal((await light(treeItem(lea, 'BERNARD Hugo'))).state, 'available'));
    await panel.getByText('BERNARD Hugo est hors ligne', { exact: false }).waitFor({ state: 'detached' });
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
