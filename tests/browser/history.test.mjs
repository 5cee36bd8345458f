// History and several devices for 1:1 conversations: MARTIN Léa and BERNARD
// Hugo (6e A) write to each other; Léa closes the conversation and opens it
// again: the messages are still there (kept in the browser, per account,
// since the server keeps no 1:1 archive yet); then she signs out, and
// nothing of the conversation stays in the browser's storage. Then Léa
// signs in on a second device (another browser context): what she writes
// there shows in the conversation on the first one too (XEP-0280 carbons),
// and Hugo's answer reaches both, once each.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, launchBrowser, rightClick, signIn, startServer, treeItem } from './harness.mjs';

describe('1:1 history and carbons', () => {
  let server;
  let browser;
  let lea;
  let hugo;
  const pages = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of pages) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
    await browser?.close();
    await server?.stop();
  });

  const open = async (login) => {
    const page = await signIn(browser, server, login);
    pages.push(page);
    return page;
  };
  const conversation = (page, name) => page.getByRole('tabpanel', { name });
  const lines = (page, name) =>
    conversation(page, name)
      .getByRole('log', { name: 'Messages' })
      .locator('.line-in, .line-out')
      .evaluateAll((els) =>
        els.map((e) => `${e.querySelector('.who').textContent}: ${e.querySelector('.text').textContent}`),
      );
  const write = async (page, name, text) => {
    const editor = conversation(page, name).getByRole('textbox', { name: 'Message' });
    await editor.fill(text);
    await editor.press('Enter');
  };
  const privately = async (page, name) => {
    await (await rightClick(page, name)).getByRole('menuitem', { name: 'Écrire en privé' }).click();
    await conversation(page, name).waitFor();
  };
  const until = async (fn, expected) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = await fn();
      try {
        assert.deepEqual(got, expected);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  it('a closed conversation opens again with its messages; « Se déconnecter » leaves nothing of it in the browser', async () => {
    lea = await open('lea.martin');
    hugo = await open('hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Hugo' });
    await privately(lea, 'BERNARD Hugo');
    await write(lea, 'BERNARD Hugo', 'Tu as fini le devoir ?');
    await conversation(hugo, 'MARTIN Léa').waitFor();
    await write(hugo, 'MARTIN Léa', 'Presque <i>fini</i> !');
    const expected = ['MARTIN Léa: Tu as fini le devoir ?', 'BERNARD Hugo: Presque <i>fini</i> !'];
    await until(() => lines(lea, 'BERNARD Hugo'), expected);

    await conversation(lea, 'BERNARD Hugo').getByRole('button', { name: 'Fermer la conversation' }).click();
    await conversation(lea, 'BERNARD Hugo').waitFor({ state: 'detached' });
    await privately(lea, 'BERNARD Hugo');
    assert.deepEqual(await lines(lea, 'BERNARD Hugo'), expected);
    assert.equal(await conversation(lea, 'BERNARD Hugo').locator('i').count(), 0, 'kept as text');
    const kept = () =>
      lea.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('causerie:') && !k.startsWith('causerie:prefs:')));
    assert.deepEqual(await kept(), ['causerie:history:lea.martin@localhost:hugo.bernard@localhost']);

    // A shared school computer: after « Se déconnecter », nothing of the conversations stays.
    await lea.getByRole('button', { name: 'Se déconnecter' }).click();
    await lea.getByLabel('Identifiant').waitFor();
    assert.deepEqual(await kept(), []);
    assert.equal(await lea.evaluate(() => JSON.stringify(localStorage).includes('devoir')), false);
    await lea.getByLabel('Identifiant').fill('lea.martin');
    await lea.getByLabel('Mot de passe').fill('demo');
    await lea.getByRole('button', { name: 'Se connecter' }).click();
    // Enter on an available contact opens the conversation too.
    await treeItem(lea, 'BERNARD Hugo').waitFor();
    await lea.waitForFunction(() => document.querySelector('[role="treeitem"][data-state="available"]'));
    await treeItem(lea, 'BERNARD Hugo').focus();
    await lea.keyboard.press('Enter');
    await conversation(lea, 'BERNARD Hugo').waitFor();
    assert.deepEqual(await lines(lea, 'BERNARD Hugo'), []);
  });

  it('what Léa writes on another device shows on this one; the answer reaches both, once', async () => {
    const tablet = await open('lea.martin');
    await treeItem(tablet, 'BERNARD Hugo').waitFor();
    await tablet.waitForFunction(() => document.querySelector('[role="treeitem"][data-state="available"]'));
    await privately(tablet, 'BERNARD Hugo');
    await write(tablet, 'BERNARD Hugo', 'Je t’écris depuis ma tablette');
    // (The first device signed out and in again: its conversation started empty.)
    await until(() => lines(lea, 'BERNARD Hugo'), ['MARTIN Léa: Je t’écris depuis ma tablette']);
    await write(hugo, 'MARTIN Léa', 'Bien reçu');
    await until(async () => (await lines(lea, 'BERNARD Hugo')).slice(-2), [
      'MARTIN Léa: Je t’écris depuis ma tablette',
      'BERNARD Hugo: Bien reçu',
    ]);
    await until(() => lines(tablet, 'BERNARD Hugo'), [
      'MARTIN Léa: Je t’écris depuis ma tablette',
      'BERNARD Hugo: Bien reçu',
    ]);
    // Nothing came twice.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await lines(lea, 'BERNARD Hugo')).length, 2);
    assert.equal((await lines(tablet, 'BERNARD Hugo')).length, 2);
  });
});
