// Several conversations at once: DURAND Anne (teacher of 6e A) gets
// messages from two pupils; each opens a conversation tab with its unread
// count, tabs switch with the arrow keys (which clears the count), and
// « Fermer la conversation » closes one.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, launchBrowser, signIn, startServer } from './harness.mjs';

describe('conversations', () => {
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

  it('several open at once, with unread counts, by the keyboard', async () => {
    const anne = await signIn(browser, server, 'anne.durand');
    const lea = await signIn(browser, server, 'lea.martin');
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, anne, { requesterName: 'MARTIN Léa', accepterName: 'DURAND Anne', search: 'Durand' });
    await befriend(hugo, anne, { requesterName: 'BERNARD Hugo', accepterName: 'DURAND Anne', search: 'Anne' });

    for (const [page, text] of [
      [lea, 'Madame, le devoir est pour quand ?'],
      [hugo, "J'ai oublié mon cahier."],
      [hugo, 'Je le rapporte demain.'],
    ]) {
      await page.getByRole('treeitem', { name: 'DURAND Anne' }).focus();
      await page.keyboard.press('Enter'); // Enter on an available contact starts the conversation
      const editor = page.getByRole('tabpanel', { name: 'DURAND Anne' }).getByRole('textbox', { name: 'Message' });
      await editor.fill(text);
      await editor.press('Enter');
    }

    const tabs = anne.getByRole('tablist', { name: 'Conversations' });
    // The first conversation is shown; the other one counts its unread messages.
    await tabs.getByRole('tab', { name: 'MARTIN Léa', exact: true }).waitFor();
    await tabs.getByRole('tab', { name: 'BERNARD Hugo 2 non lu(s)' }).waitFor();
    assert.equal(await tabs.getByRole('tab', { name: 'MARTIN Léa', exact: true }).getAttribute('aria-selected'), 'true');
    await anne.getByRole('tabpanel', { name: 'MARTIN Léa' }).getByText('Madame, le devoir est pour quand ?').waitFor();

    await tabs.getByRole('tab', { name: 'MARTIN Léa', exact: true }).focus();
    await anne.keyboard.press('ArrowRight');
    const hugoTab = tabs.getByRole('tab', { name: 'BERNARD Hugo', exact: true });
    await hugoTab.waitFor();
    assert.equal(await hugoTab.getAttribute('aria-selected'), 'true');
    assert.equal(await hugoTab.evaluate((el) => el === document.activeElement), true);
    const panel = anne.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    assert.deepEqual(await panel.locator('.line-in .text').allTextContents(), [
      "J'ai oublié mon cahier.",
      'Je le rapporte demain.',
    ]);

    await panel.getByRole('button', { name: 'Fermer la conversation' }).click();
    await hugoTab.waitFor({ state: 'detached' });
    assert.equal(await tabs.getByRole('tab').count(), 1);
    await anne.getByRole('tabpanel', { name: 'MARTIN Léa' }).waitFor();
    for (const page of [anne, lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
