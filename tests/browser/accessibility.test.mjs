// Automated WCAG 2.1 A/AA checks (axe-core) on the main screens: the login
// page with an error, the chat window with categories and contacts, an open
// context menu, the « Ajouter contacts » dialog, « Mes demandes », a
// conversation with the smiley picker, and a confirmation. Automated checks
// find only part of the problems; the keyboard paths are tested in the other
// files, by role and accessible name.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, eventually, launchBrowser, light, rightClick, startServer, treeItem, watch } from './harness.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

describe('accessibility (axe-core, WCAG 2.1 A and AA)', () => {
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

  // The pages' Content-Security-Policy forbids injected scripts; axe is ours.
  async function open() {
    const context = await browser.newContext({ locale: 'fr-FR', bypassCSP: true, viewport: { width: 1100, height: 700 } });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    await page.goto(server.url);
    return page;
  }

  async function signIn(page, login) {
    await page.getByRole('textbox', { name: 'Identifiant' }).fill(login);
    await page.getByLabel('Mot de passe').fill('demo');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('tab', { name: 'Contacts' }).waitFor();
  }

  async function check(page, what) {
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    const problems = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
    );
    assert.deepEqual(problems, [], `${what}:\n${problems.join('\n')}`);
  }

  it('has no violations on the main screens', async () => {
    const lea = await open();
    await lea.getByRole('button', { name: 'Se connecter' }).click();
    await lea.getByRole('alert').getByText('Saisissez votre identifiant et votre mot de passe.').waitFor();
    await check(lea, 'login page with an error');
    await signIn(lea, 'lea.martin');
    await check(lea, 'empty chat window');

    let menu = await rightClick(lea, 'Tous mes contacts');
    await check(lea, 'context menu');
    await menu.getByRole('menuitem', { name: 'Créer une catégorie' }).click();
    const create = lea.getByRole('dialog', { name: 'Créer une catégorie' });
    await create.getByRole('button', { name: 'OK' }).click();
    await create.getByRole('alert').waitFor();
    await check(lea, '« Créer une catégorie » with an error');
    await create.getByRole('textbox', { name: 'Nom de la catégorie' }).fill('Ma classe');
    await create.getByRole('button', { name: 'OK' }).click();

    menu = await rightClick(lea, 'Ma classe (0)');
    await menu.getByRole('menuitem', { name: 'Ajouter contacts' }).click();
    const add = lea.getByRole('dialog', { name: 'Ajouter contacts' });
    await add.getByRole('radio', { name: /BERNARD Hugo/ }).check();
    await check(lea, '« Ajouter contacts »');
    await add.getByRole('button', { name: 'Ajouter le contact' }).click();
    await treeItem(lea, 'BERNARD Hugo').getByText('Invitation en attente').waitFor();
    await check(lea, 'contacts with an invitation');

    const hugo = await open();
    await signIn(hugo, 'hugo.bernard');
    await hugo.getByRole('tab', { name: 'Mes demandes (1)' }).click();
    await hugo.getByRole('button', { name: 'Accepter' }).waitFor();
    await check(hugo, '« Mes demandes »');
    await hugo.getByRole('button', { name: 'Accepter' }).click();

    const item = treeItem(lea, 'BERNARD Hugo');
    await eventually(async () => assert.equal((await light(item)).state, 'available'));
    await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Écrire en privé' }).click();
    const conv = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await conv.getByRole('textbox', { name: 'Message' }).fill('Bonjour');
    await conv.getByRole('textbox', { name: 'Message' }).press('Enter');
    await hugo.getByRole('tab', { name: /^MARTIN Léa/ }).waitFor();
    await check(hugo, 'a conversation with an unread message');
    await conv.getByRole('button', { name: 'Insérer un smiley' }).click();
    await lea.getByRole('dialog', { name: 'Smileys' }).waitFor();
    await check(lea, 'a conversation with the smiley picker');
    await lea.keyboard.press('Escape');

    await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Supprimer contact' }).click();
    await lea.getByRole('alertdialog', { name: 'Supprimer contact' }).waitFor();
    await check(lea, 'a confirmation');
    await lea.getByRole('button', { name: 'Oui' }).click();
    await lea.getByRole('status').getByText('ne contient plus de contacts', { exact: false }).waitFor();
    await check(lea, 'an information message');

    await lea.goto(`${server.url}/demo-portal`);
    await lea.getByRole('link', { name: 'Chat' }).click();
    await lea.getByRole('dialog', { name: 'Chat' }).waitFor();
    await check(lea, 'the demo portal with the floating window');
    assert.deepEqual([...lea.errors, ...hugo.errors], []);
  });
});
