// Unread messages, as a pupil sees them: MARTIN Léa talks with DURAND Anne
// while BERNARD Hugo writes to her. Hugo's row in the contact tree and
// « Autres contacts » carry the count (a badge, and « 2 non lu(s) » as the
// row's description), and so does the page title; they go away when she
// reads. With the page hidden, even the conversation shown counts. In the
// demo portal, the « Chat » entry shows the count while the floating window
// is reduced, and the portal hears of it (callback and event).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  TIMEOUT,
  badgeOf,
  befriend,
  checkA11y,
  eventually,
  launchBrowser,
  setPageHidden,
  shot,
  signIn,
  startServer,
  treeItem,
  watch,
  writeTo,
} from './harness.mjs';

describe('unread messages', () => {
  let server;
  let browser;
  let hugo;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('per contact, per category and in the title; the hidden page counts too', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    hugo = await signIn(browser, server, 'hugo.bernard');
    const anne = await signIn(browser, server, 'anne.durand');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await befriend(lea, anne, { requesterName: 'MARTIN Léa', accepterName: 'DURAND Anne', search: 'Durand' });

    await writeTo(anne, 'MARTIN Léa', 'Bonjour Léa, as-tu fini ton exposé ?');
    await lea.getByRole('tabpanel', { name: 'DURAND Anne' }).getByText('as-tu fini').waitFor();
    assert.equal(await lea.title(), 'Chat — MARTIN Léa', 'the conversation shown is read');

    await writeTo(hugo, 'MARTIN Léa', 'Tu viens au foot ?');
    await writeTo(hugo, 'MARTIN Léa', 'Réponds vite !');
    await eventually(async () => assert.equal(await lea.title(), '(2) Chat — MARTIN Léa'));
    const hugoRow = treeItem(lea, 'BERNARD Hugo');
    // The row's name says the count; its description, the state.
    assert.equal(await badgeOf(hugoRow), '2');
    await lea.getByRole('treeitem', { name: 'BERNARD Hugo 2 non lu(s)', exact: true }).waitFor();
    assert.equal(await badgeOf(lea.getByRole('treeitem', { name: /^Autres contacts/ })), '2');
    assert.equal(await badgeOf(treeItem(lea, 'DURAND Anne')), null);
    await lea.getByRole('tablist', { name: 'Conversations' }).getByRole('tab', { name: 'BERNARD Hugo 2 non lu(s)' }).waitFor();
    await shot(lea, 'unread');
    await checkA11y(lea, 'unread counts in the tree and the tabs');

    await lea.getByRole('tab', { name: /^BERNARD Hugo/ }).click();
    await eventually(async () => assert.equal(await lea.title(), 'Chat — MARTIN Léa'));
    assert.equal(await badgeOf(hugoRow), null);

    // The page hidden (another tab in front): the conversation shown counts too, until seen.
    await setPageHidden(lea, true);
    await writeTo(hugo, 'MARTIN Léa', 'Alors ?');
    await eventually(async () => assert.equal(await lea.title(), '(1) Chat — MARTIN Léa'));
    assert.equal(await badgeOf(hugoRow), '1');
    await setPageHidden(lea, false);
    await eventually(async () => assert.equal(await lea.title(), 'Chat — MARTIN Léa'));
    assert.equal(await badgeOf(hugoRow), null);
    for (const page of [lea, hugo, anne]) assert.deepEqual(page.errors, []);
    await lea.context().close();
    await anne.context().close();
  });

  it("on the portal's « Chat » entry while the window is reduced", async () => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 800 }, bypassCSP: true });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    await page.goto(`${server.url}/demo-portal`);
    await page.evaluate(() => {
      window.heard = [];
      window.Causerie.onUnread = (n) => window.heard.push(['callback', n]);
      document.addEventListener('causerie:unread', (e) => window.heard.push(['event', e.detail.count]));
    });
    const chatLink = page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: /^Chat/ });
    await chatLink.click();
    const win = page.getByRole('dialog', { name: 'Chat' });
    const frame = page.frameLocator('iframe[title="Chat"]');
    await frame.getByRole('textbox', { name: 'Identifiant' }).fill('lea.martin');
    await frame.getByLabel('Mot de passe').fill('demo');
    await frame.getByRole('button', { name: 'Se connecter' }).click();
    await frame.getByRole('banner').getByText('MARTIN Léa').waitFor();
    await win.getByRole('button', { name: 'Réduire' }).click();
    await win.waitFor({ state: 'hidden' });

    await writeTo(hugo, 'MARTIN Léa', 'Tu es là ?');
    await eventually(async () => assert.equal(await chatLink.textContent(), 'Chat1 (1 message non lu)'));
    assert.equal(await page.getByRole('link', { name: 'Chat (1 message non lu)' }).count(), 1, 'its accessible name says it');
    await writeTo(hugo, 'MARTIN Léa', 'Réponds !');
    await eventually(async () => assert.equal(await chatLink.textContent(), 'Chat2 (2 messages non lus)'));
    await shot(page, 'portal-unread');
    await checkA11y(page, 'the demo portal with an unread count');

    // Opened again: the conversation shown is read, the badge goes.
    await chatLink.click();
    await win.waitFor();
    await frame.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByText('Réponds !').waitFor();
    await eventually(async () => assert.equal(await chatLink.textContent(), 'Chat'));
    const heard = await page.evaluate(() => window.heard);
    assert.deepEqual(heard.filter(([k]) => k === 'callback').map(([, n]) => n), [1, 2, 0]);
    assert.deepEqual(heard.filter(([k]) => k === 'event').map(([, n]) => n), [1, 2, 0]);
    assert.deepEqual(page.errors, []);
  });
});
