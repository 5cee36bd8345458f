// Day separators: a conversation's messages are grouped by the day they
// were written, « lundi 1er décembre 2025 », « Hier », « Aujourd'hui » (a
// heading in the log, so a screen reader jumps from day to day); each
// message keeps its time. The older lines are put in the server's archive
// of 1:1 messages (its SQLite database) before the conversation opens, which
// loads them from there (XEP-0313).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, launchBrowser, shot, signIn, startServer, writeTo } from './harness.mjs';

/** Puts 1:1 messages between `login` and BERNARD Hugo into `login`'s archive (sqlite3). */
function archive(server, login, messages) {
  const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
  const me = `${login}@localhost`;
  const hugo = 'hugo.bernard@localhost';
  const sql = messages
    .map(({ id, out, text, ms }) => {
      const stanza =
        `<message xmlns="jabber:client" type="chat" id="${id}" from="${out ? me : hugo}/x" to="${out ? hugo : me}">` +
        `<body>${text}</body></message>`;
      return (
        'INSERT INTO account_archive (owner_id, stanza_id, with_jid, outgoing, stanza, stamp_ms) VALUES (' +
        `(SELECT id FROM accounts WHERE username = ${q(login)}), ${q(id)}, ${q(hugo)}, ${out ? 1 : 0}, ${q(stanza)}, ${ms});`
      );
    })
    .join('\n');
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', join(server.root, 'data', 'causerie.db')], {
    input: sql,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
}

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
    // Older messages, as the server's archive keeps them (written straight into its database:
    // the server stamps what it archives with the time it arrives).
    const at = (y, m, d, h, min) => new Date(y, m, d, h, min).getTime();
    const now = new Date();
    const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    archive(server, 'lea.martin', [
      { id: 'h1', out: false, text: 'As-tu le cahier de maths ?', ms: at(2025, 11, 1, 9, 5) },
      { id: 'h2', out: true, text: 'Oui, je te le prête.', ms: at(2025, 11, 1, 9, 7) },
      { id: 'h3', out: false, text: 'Merci pour hier !', ms: at(y.getFullYear(), y.getMonth(), y.getDate(), 17, 30) },
    ]);
    await writeTo(hugo, 'MARTIN Léa', 'On se voit à la récré ?');
    const log = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByRole('log', { name: 'Messages' });
    await log.getByText('On se voit à la récré ?').waitFor();
    await log.getByText('As-tu le cahier de maths ?').waitFor();
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
