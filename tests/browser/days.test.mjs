// Day separators: a conversation's messages are grouped by the day they
// were written, « lundi 1er décembre 2025 », « Hier », « Aujourd'hui » (a
// heading in the log, so a screen reader jumps from day to day); each
// message keeps its time. The older lines are put in the browser's kept
// history of the conversation (as the client keeps them) before opening it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, launchBrowser, shot, signIn, startServer, writeTo } from './harness.mjs';

describe('day separators', () => {
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

  it("« lundi 1er décembre 2025 », « Hier », « Aujourd'hui », each message with its time", async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await lea.evaluate(() => {
      const at = (y, m, d, h, min) => new Date(y, m, d, h, min).toISOString();
      const now = new Date();
      const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
      localStorage.setItem(
        'causerie:history:lea.martin@localhost:hugo.bernard@localhost',
        JSON.stringify([
          { id: 'h1', kind: 'in', text: 'As-tu le cahier de maths ?', time: at(2025, 11, 1, 9, 5) },
          { id: 'h2', kind: 'out', text: 'Oui, je te le prête.', time: at(2025, 11, 1, 9, 7) },
          { id: 'h3', kind: 'in', text: 'Merci pour hier !', time: at(y.getFullYear(), y.getMonth(), y.getDate(), 17, 30) },
        ]),
      );
    });
    await writeTo(hugo, 'MARTIN Léa', 'On se voit à la récré ?');
    const log = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByRole('log', { name: 'Messages' });
    await log.getByText('On se voit à la récré ?').waitFor();
    assert.deepEqual(await log.getByRole('heading', { level: 3 }).allTextContents(), [
      'lundi 1er décembre 2025',
      'Hier',
      "Aujourd'hui",
    ]);
    // Each day's heading comes before its messages; the messages keep their time.
    const order = await log.evaluate((el) =>
      Array.from(el.querySelectorAll('.day, .line')).map((e) =>
        e.classList.contains('day') ? `# ${e.textContent}` : `${e.querySelector('time').textContent} ${e.querySelector('.text').textContent}`,
      ),
    );
    assert.equal(order.length, 7);
    assert.deepEqual(order.slice(0, 3), ['# lundi 1er décembre 2025', '09:05:00 As-tu le cahier de maths ?', '09:07:00 Oui, je te le prête.']);
    assert.deepEqual(order.slice(3, 5), ['# Hier', '17:30:00 Merci pour hier !']);
    assert.equal(order[5], "# Aujourd'hui");
    assert.match(order[6], /^\d\d:\d\d:\d\d On se voit à la récré \?$/);
    await shot(lea, 'days');
    await checkA11y(lea, 'a conversation with day separators');
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
