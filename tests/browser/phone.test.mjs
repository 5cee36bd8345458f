// The client on a phone (360 × 740): the panes stacked, nothing wider than
// the screen, a room's participants in a drawer (« Participants (n) »,
// aria-expanded, the focus moved in and given back, Escape closes); links in
// messages (http(s) and mailto only, a new tab without opener, hostile text
// shown as text); axe-core on these screens. MARTIN Léa is on the phone,
// BERNARD Hugo on a computer.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, eventually, launchBrowser, rightClick, shot, signIn, startServer, writeTo } from './harness.mjs';

const PHONE = { width: 360, height: 740 };
const ROOM = 'Exposé sur les volcans';

describe('on a phone, 360 px wide', () => {
  let server;
  let browser;
  let lea;
  let hugo;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of [lea, hugo]) if (page) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
    await browser?.close();
    await server?.stop();
  });

  const onFailure = (fn) => async () => {
    try {
      await fn();
    } catch (e) {
      console.error(`--- server log ---\n${server?.logTail()}`);
      throw e;
    }
  };

  /** Nothing in the page is wider than the screen (no sideways scrolling). */
  const fits = async (page, what) => {
    const { scroll, widest } = await page.evaluate(() => {
      const el = document.scrollingElement ?? document.documentElement;
      let widest = '';
      for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width > 0 && r.right > window.innerWidth + 0.5 && getComputedStyle(e).position !== 'fixed') {
          widest ||= `${e.tagName.toLowerCase()}.${e.className} (right ${Math.round(r.right)})`;
        }
      }
      return { scroll: Math.max(el.scrollWidth, document.body.scrollWidth), widest };
    });
    assert.ok(scroll <= PHONE.width, `${what}: the page is ${scroll} px wide (${widest})`);
  };

  it(
    'the chat window and a 1:1 conversation fit; links are links, and only safe ones',
    onFailure(async () => {
      lea = await signIn(browser, server, 'lea.martin', { viewport: PHONE, axe: true });
      hugo = await signIn(browser, server, 'hugo.bernard');
      await fits(lea, 'the empty chat window');
      await checkA11y(lea, 'the chat window on a phone');

      await befriend(hugo, lea, { requesterName: 'BERNARD Hugo', accepterName: 'MARTIN Léa', search: 'Martin' });
      const text =
        'Le sujet : https://example.org/devoirs?id=3&classe=6A, écris à mailto:anne.durand@example.org. ' +
        'Pas ça : javascript:alert(1) ni data:text/html,<b>x</b> <img src=x onerror=alert(2)> ' +
        'https://example.org/un-tres-long-chemin-sans-espace-aucun-qui-ne-tiendrait-pas-sur-un-telephone-de-360-pixels';
      await writeTo(hugo, 'MARTIN Léa', text);
      const panel = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
      await lea.getByRole('tab', { name: /^BERNARD Hugo/ }).click();
      const message = panel.locator('.line-in .text');
      await message.getByText('Pas ça : javascript:alert(1)', { exact: false }).waitFor();
      // The whole text as typed, HTML included.
      assert.equal(
        (await message.evaluate((p) => p.textContent)).replace(/ \(nouvel onglet\)/g, ''),
        text,
      );
      const links = await message.getByRole('link').evaluateAll((as) =>
        as.map((a) => ({ href: a.getAttribute('href'), target: a.target, rel: a.rel, name: a.textContent })),
      );
      assert.deepEqual(links, [
        {
          href: 'https://example.org/devoirs?id=3&classe=6A',
          target: '_blank',
          rel: 'noopener noreferrer',
          name: 'https://example.org/devoirs?id=3&classe=6A (nouvel onglet)',
        },
        {
          href: 'mailto:anne.durand@example.org',
          target: '_blank',
          rel: 'noopener noreferrer',
          name: 'mailto:anne.durand@example.org (nouvel onglet)',
        },
        {
          href: 'https://example.org/un-tres-long-chemin-sans-espace-aucun-qui-ne-tiendrait-pas-sur-un-telephone-de-360-pixels',
          target: '_blank',
          rel: 'noopener noreferrer',
          name: 'https://example.org/un-tres-long-chemin-sans-espace-aucun-qui-ne-tiendrait-pas-sur-un-telephone-de-360-pixels (nouvel onglet)',
        },
      ]);
      assert.equal(await lea.locator('.log img, .log b, .log script').count(), 0, 'no element from the text');
      await fits(lea, 'a conversation with a long address');
      await checkA11y(lea, 'a conversation with links on a phone');
      await shot(lea, 'phone');
    }),
  );

  it(
    "a room's participants are a drawer: opened by « Participants (n) », Escape closes it",
    onFailure(async () => {
      await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Commencer conversation' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Commencer conversation' });
      await dialog.getByRole('textbox', { name: 'Nom de la conversation' }).fill(ROOM);
      await dialog.getByRole('button', { name: 'OK' }).click();
      await hugo.getByRole('tab', { name: /^Mes demandes \(1\)$/ }).click();
      await hugo.getByRole('listitem').filter({ hasText: ROOM }).getByRole('button', { name: 'Accepter' }).click();

      const panel = lea.getByRole('tabpanel', { name: ROOM });
      const toggle = panel.getByRole('button', { name: 'Participants (2)' });
      await toggle.waitFor();
      const list = panel.getByRole('list', { name: 'Participants' });
      // Closed at first: the messages have the whole width.
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      assert.equal(await list.isVisible(), false);
      assert.equal(await toggle.getAttribute('aria-controls'), await panel.locator('aside').getAttribute('id'));
      await fits(lea, 'a room, participants closed');

      await toggle.click();
      assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
      await list.waitFor();
      assert.deepEqual(
        (await list.getByRole('listitem').locator('.participant-button, .participant-name').allTextContents()).map((s) =>
          s.trim(),
        ),
        ['BERNARD Hugo', 'MARTIN Léa'],
      );
      // The focus goes into the drawer, on its « Fermer ».
      const close = panel.getByRole('complementary').getByRole('button', { name: 'Fermer' });
      assert.equal(await close.evaluate((el) => el === document.activeElement), true, 'focus in the drawer');
      await fits(lea, 'a room, participants open');
      await checkA11y(lea, 'the participants drawer');
      await shot(lea, 'phone-participants');

      // Escape closes it, and the focus goes back to the button.
      await lea.keyboard.press('Escape');
      await list.waitFor({ state: 'hidden' });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      assert.equal(await toggle.evaluate((el) => el === document.activeElement), true, 'focus back on the button');
      // « Fermer » too; the button toggles.
      await toggle.click();
      await close.click();
      await list.waitFor({ state: 'hidden' });
      assert.equal(await toggle.evaluate((el) => el === document.activeElement), true);
      await toggle.press('Enter');
      await list.waitFor();
      await toggle.click();
      await list.waitFor({ state: 'hidden' });

      // A message of the room still reaches the phone, its address a link.
      const hugoPanel = hugo.getByRole('tabpanel', { name: ROOM });
      const editor = hugoPanel.getByRole('textbox', { name: 'Message' });
      await editor.fill('Les photos : https://example.org/volcans');
      await editor.press('Enter');
      await panel
        .getByRole('log')
        .getByRole('link', { name: 'https://example.org/volcans (nouvel onglet)' })
        .waitFor();

      // On a computer the participants are a column, always shown: no drawer button.
      await hugoPanel.getByRole('list', { name: 'Participants' }).waitFor();
      assert.equal(await hugoPanel.getByRole('button', { name: /^Participants/ }).count(), 0);
      await eventually(async () => fits(lea, 'the room with a message'));
    }),
  );
});
