// History and several devices for 1:1 conversations, from the server's
// archive (XEP-0313): MARTIN Léa and BERNARD Hugo (6e A) write to each
// other; Léa closes the conversation and opens it again, and signs in on a
// second device (a fresh browser context): the messages are there, once
// each, from the server. Nothing of them is ever in the browser's storage,
// and after « Se déconnecter » nothing of the account is (localStorage,
// sessionStorage, IndexedDB), also what an earlier version of the client
// had left there. « Messages précédents » pages back through the archive.
// What Léa writes on one device shows on the other (XEP-0280 carbons), and
// Hugo's answer reaches both, once each.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, launchBrowser, rightClick, signIn, startServer, treeItem } from './harness.mjs';

describe('1:1 history from the server, and carbons', () => {
  let server;
  let browser;
  let lea;
  let hugo;
  const pages = [];

  before(async () => {
    // Hugo sends 56 messages in a row to fill the archive: no message rate here (the
    // limits are tested in tests/interop/test_rate_limits.py).
    server = await startServer({ extraToml: '[rates.pupils]\nmessages_per_minute = 0\n' });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of pages) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
    await browser?.close();
    await server?.stop();
  });

  const open = async (login, opts) => {
    const page = await signIn(browser, server, login, opts);
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
  /** Everything the page's origin keeps in the browser. */
  const kept = (page) =>
    page.evaluate(async () => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
      indexedDB: (await indexedDB.databases()).map((d) => d.name),
    }));
  const nothing = { local: [], session: [], indexedDB: [] };

  it('a closed conversation, and a fresh device, show the messages from the server; nothing in the browser', async () => {
    // An earlier version of the client kept the 1:1 history in localStorage: it goes at login.
    lea = await open('lea.martin', {
      init: () =>
        localStorage.setItem('causerie:history:lea.martin@localhost:hugo.bernard@localhost', '[{"text":"ancien"}]'),
    });
    hugo = await open('hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Hugo' });
    assert.deepEqual(await kept(lea), nothing, 'what an earlier client left is gone');
    await privately(lea, 'BERNARD Hugo');
    await write(lea, 'BERNARD Hugo', 'Tu as fini le devoir ?');
    await conversation(hugo, 'MARTIN Léa').waitFor();
    await write(hugo, 'MARTIN Léa', 'Presque <i>fini</i> !');
    const expected = ['MARTIN Léa: Tu as fini le devoir ?', 'BERNARD Hugo: Presque <i>fini</i> !'];
    await until(() => lines(lea, 'BERNARD Hugo'), expected);

    // Closed and opened again: the same two lines, from the archive, once each.
    await conversation(lea, 'BERNARD Hugo').getByRole('button', { name: 'Fermer la conversation' }).click();
    await conversation(lea, 'BERNARD Hugo').waitFor({ state: 'detached' });
    await privately(lea, 'BERNARD Hugo');
    await until(() => lines(lea, 'BERNARD Hugo'), expected);
    assert.equal(await conversation(lea, 'BERNARD Hugo').locator('i').count(), 0, 'kept as text');
    // The whole conversation is there: the archive says so.
    await conversation(lea, 'BERNARD Hugo').getByText('Début de la conversation').waitFor();
    assert.deepEqual(await kept(lea), nothing, 'nothing of the conversation in the browser');

    // A fresh device (another browser context): the history comes from the server.
    const tablet = await open('lea.martin', { axe: true });
    await treeItem(tablet, 'BERNARD Hugo').waitFor();
    await privately(tablet, 'BERNARD Hugo');
    await until(() => lines(tablet, 'BERNARD Hugo'), expected);
    const log = conversation(tablet, 'BERNARD Hugo').getByRole('log', { name: 'Messages' });
    assert.deepEqual(await log.getByRole('heading', { level: 3 }).allTextContents(), ["Aujourd'hui"]);
    await checkA11y(tablet, 'a 1:1 conversation with its history from the server');
    await tablet.getByRole('button', { name: 'Se déconnecter' }).click();
    await tablet.getByLabel('Identifiant').waitFor();
    await tablet.context().close();

    // A shared school computer: after « Se déconnecter », nothing of the account stays.
    await lea.getByRole('button', { name: 'Se déconnecter' }).click();
    await lea.getByLabel('Identifiant').waitFor();
    assert.deepEqual(await kept(lea), nothing);
    // Signing in again: the history is the server's, each message once.
    await lea.getByLabel('Identifiant').fill('lea.martin');
    await lea.getByLabel('Mot de passe').fill('demo');
    await lea.getByRole('button', { name: 'Se connecter' }).click();
    await treeItem(lea, 'BERNARD Hugo').waitFor();
    // Enter on a contact opens the conversation too.
    await treeItem(lea, 'BERNARD Hugo').focus();
    await lea.keyboard.press('Enter');
    await conversation(lea, 'BERNARD Hugo').waitFor();
    await until(() => lines(lea, 'BERNARD Hugo'), expected);
    assert.deepEqual(await kept(lea), nothing);
  });

  it('« Messages précédents » brings the earlier pages of the archive, in order, up to « Début de la conversation »', async () => {
    const said = Array.from({ length: 56 }, (_, i) => `Message ${i + 1}`);
    for (const text of said) await write(hugo, 'MARTIN Léa', text);
    await conversation(lea, 'BERNARD Hugo').getByText('Message 56', { exact: true }).waitFor();
    const all = [
      'MARTIN Léa: Tu as fini le devoir ?',
      'BERNARD Hugo: Presque <i>fini</i> !',
      ...said.map((s) => `BERNARD Hugo: ${s}`),
    ];
    // A fresh device: the last 50 messages first.
    const pc = await open('lea.martin');
    await treeItem(pc, 'BERNARD Hugo').waitFor();
    await privately(pc, 'BERNARD Hugo');
    await until(async () => (await lines(pc, 'BERNARD Hugo')).length, 50);
    assert.deepEqual(await lines(pc, 'BERNARD Hugo'), all.slice(-50));
    const older = conversation(pc, 'BERNARD Hugo').getByRole('button', { name: 'Messages précédents' });
    await older.click();
    await conversation(pc, 'BERNARD Hugo').getByText('Début de la conversation').waitFor();
    assert.deepEqual(await lines(pc, 'BERNARD Hugo'), all);
    assert.equal(await older.count(), 0);
    await pc.context().close();
  });

  it('what Léa writes on another device shows on this one; the answer reaches both, once', async () => {
    const tablet = await open('lea.martin');
    await treeItem(tablet, 'BERNARD Hugo').waitFor();
    await tablet.waitForFunction(() => document.querySelector('[role="treeitem"][data-state="available"]'));
    await privately(tablet, 'BERNARD Hugo');
    await until(async () => (await lines(tablet, 'BERNARD Hugo')).length, 50);
    await write(tablet, 'BERNARD Hugo', 'Je t’écris depuis ma tablette');
    await until(async () => (await lines(lea, 'BERNARD Hugo')).slice(-1), ['MARTIN Léa: Je t’écris depuis ma tablette']);
    await write(hugo, 'MARTIN Léa', 'Bien reçu');
    const last = ['MARTIN Léa: Je t’écris depuis ma tablette', 'BERNARD Hugo: Bien reçu'];
    await until(async () => (await lines(lea, 'BERNARD Hugo')).slice(-2), last);
    await until(async () => (await lines(tablet, 'BERNARD Hugo')).slice(-2), last);
    // Nothing came twice (live, as a carbon, and from the archive).
    await new Promise((r) => setTimeout(r, 500));
    for (const page of [lea, tablet]) {
      const got = await lines(page, 'BERNARD Hugo');
      assert.equal(new Set(got).size, got.length, `each message once: ${got.join(' | ')}`);
    }
  });
});
