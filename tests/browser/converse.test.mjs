// Converse.js 14 (npm's `converse.js`, installed in tests/browser/converse/,
// served from this machine: converse-harness.mjs) in Debian's Chromium, over
// Causerie's WebSocket (ws://localhost:PORT/xmpp-websocket), through the seed's
// scenario as far as the server supports it today. MARTIN Léa (6e A) uses
// Converse, in French; her classmate BERNARD Hugo is a slixmpp client
// (classmate.py, from the interop suite's .venv) that accepts requests as the
// school's chat does (accept and ask back).
//
// - login with the directory's name in the profile;
// - « Ajouter un contact »: the request is « en attente », then Hugo is a
//   contact, online, in « Sans groupe »;
// - a 1:1 conversation both ways;
// - states: « Absent » chosen in « Votre profil » reaches Hugo; Hugo's « Ne pas
//   déranger » shows on his row;
// - a room: « Ajouter un nouveau salon », the nickname set by the server to the
//   school's name, « Inviter quelqu'un », Hugo among the participants, messages
//   both ways; Léa, its creator, retracts Hugo's message with Converse's own
//   « Retract » (XEP-0425 as Converse sends it): gone from her screen, and the
//   room's archive holds a tombstone, not the text;
// - a pupil of another class (ROBERT Noah, 6e B): « Ajouter un contact » is
//   refused and he is not in the roster.
//
// Skipped when tests/browser/converse/node_modules is missing (scripts/test runs
// `npm ci` there) or when .venv is (scripts/test makes it for the interop suite).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, eventually, launchBrowser, shot, startServer } from './harness.mjs';
import { converseInstalled, converseLogin, converseVersion, openConverse, serveConverse } from './converse-harness.mjs';

const PYTHON = join(REPO, '.venv/bin/python');
const skip =
  (!converseInstalled() && 'Converse.js is not installed (cd tests/browser/converse && npm ci)') ||
  (!existsSync(PYTHON) && 'no .venv (run scripts/test)');

/** The classmate (slixmpp) as a child process whose printed steps can be awaited. */
function classmate(server, jid, peer, texts) {
  const lines = [];
  const waiters = [];
  const proc = spawn(
    PYTHON,
    [join(REPO, 'tests/browser/classmate.py'), String(server.c2sPort), jid, 'demo', peer, ...texts],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const onData = (d) => {
    out += String(d);
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      lines.push(out.slice(0, i));
      out = out.slice(i + 1);
      for (const w of [...waiters]) w();
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', (d) => lines.push(`stderr: ${String(d).trimEnd()}`));
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  return {
    proc,
    exited,
    lines,
    /** Waits for a printed line starting with `prefix`; returns it. */
    step(prefix, timeout = 20_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const line = lines.find((l) => l.startsWith(prefix));
          if (line) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            res(line);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          rej(new Error(`classmate never said ${prefix}:\n${lines.join('\n')}`));
        }, timeout);
        waiters.push(check);
        check();
      });
    },
  };
}

/** A row of Converse's roster by the contact's name, and its state (data-status). */
function rosterRow(page, name) {
  return page.locator('converse-roster li.list-item').filter({ has: page.getByRole('link', { name: new RegExp(`^${name} `) }) });
}


/** One number from the server's database (sqlite3). */
function sqlCount(server, sql) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', join(server.root, 'data', 'causerie.db'), sql], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

describe(`Converse.js ${converseInstalled() ? converseVersion() : '14'} against Causerie`, { skip }, () => {
  let server;
  let site;
  let browser;

  before(async () => {
    server = await startServer();
    site = await serveConverse(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await site?.close();
    await server?.stop();
  });

  it('a pupil goes through the seed: contact, chat, states, a room, a refused contact', async () => {
    const chat = 'Salut Hugo, on révise ensemble ?';
    const reply = 'Oui, après la cantine !';
    const roomText = "Bonjour Hugo, voici l'exposé";
    const roomReply = 'Merci Léa, je lis ça';
    const hugo = classmate(server, 'hugo.bernard@localhost', 'lea.martin@localhost', [chat, reply, roomText, roomReply]);
    const lea = await openConverse(browser, site);
    const stacks = [];
    lea.on('pageerror', (e) => stacks.push(e.stack ?? String(e)));
    try {
      await hugo.step('ready');
      await converseLogin(lea, 'lea.martin@localhost', 'demo');
      // the directory's name, from the server's vCard
      await lea.getByRole('heading', { name: 'MARTIN Léa', level: 2 }).waitFor();
      await lea.getByText('Je suis en ligne').waitFor();

      // « Ajouter un contact »: pending, then accepted (Hugo accepts and asks back)
      await lea.locator('converse-roster').getByRole('button', { name: 'Menu' }).first().click();
      await lea.getByRole('button', { name: 'Ajouter un contact' }).click();
      const add = lea.getByRole('dialog').filter({ hasText: 'Ajouter un contact' });
      await add.getByRole('textbox', { name: 'nom@exemple.org' }).fill('hugo.bernard@localhost');
      await add.getByRole('button', { name: 'Ajouter', exact: true }).click();
      await hugo.step('contacts');
      const hugoRow = rosterRow(lea, 'BERNARD Hugo');
      await eventually(async () => {
        const cls = await hugoRow.getAttribute('class');
        assert.match(cls, /current-xmpp-contact/);
        assert.equal(await hugoRow.getAttribute('data-status'), 'online');
      });
      await lea.getByRole('link', { name: 'Sans groupe' }).waitFor();
      assert.equal(await lea.getByRole('link', { name: 'Contacts en attente' }).count(), 0);

      // a 1:1 conversation both ways
      await hugoRow.getByRole('link', { name: /^BERNARD Hugo / }).click();
      const chatbox = lea.locator('converse-chat').filter({ has: lea.getByRole('heading', { name: 'BERNARD Hugo' }) });
      const editor = chatbox.getByRole('textbox', { name: 'Message' });
      await editor.fill(chat);
      await editor.press('Enter');
      await hugo.step('chat');
      await chatbox.getByText(reply).waitFor();
      assert.equal(await chatbox.getByText('Échec de remise du message').count(), 0);
      await shot(lea, 'converse-chat');

      // states: « Absent » in « Votre profil »; Hugo's « Ne pas déranger » on his row
      await lea.getByText('Je suis en ligne').click();
      const profile = lea.getByRole('dialog').filter({ hasText: 'Votre profil' });
      await profile.getByRole('radio', { name: 'Absent', exact: true }).check();
      await profile.getByRole('button', { name: 'Définir le statut' }).click();
      if (await profile.isVisible()) await profile.getByRole('button', { name: 'Close' }).first().click();
      await profile.waitFor({ state: 'hidden' });
      await lea.locator('converse-user-profile').getByText('Je suis absent').waitFor();
      await hugo.step('away');
      await hugo.step('dnd');
      await eventually(async () => assert.equal(await hugoRow.getAttribute('data-status'), 'dnd'));

      // a room: created, the school's name as nickname, Hugo invited, messages both ways
      const roomName = `expose-${Date.now().toString(36)}`;
      await lea.locator('converse-rooms-list').getByRole('button', { name: 'Menu' }).click();
      await lea.getByRole('button', { name: 'Ajouter un nouveau salon' }).click();
      const join = lea.getByRole('dialog').filter({ hasText: 'Entrer dans un nouveau salon' });
      await join.getByRole('textbox').first().fill(`${roomName}@conference.localhost`);
      await join.getByRole('textbox', { name: 'Ce champ est requis' }).fill('Léa');
      await join.getByRole('button', { name: 'Rejoindre' }).click();
      const muc = lea.locator('converse-muc');
      await muc.getByRole('heading', { name: roomName }).waitFor();
      await muc.getByText('Votre pseudo a été automatiquement défini à : MARTIN Léa').waitFor();
      await muc.locator('converse-muc-sidebar').getByRole('button', { name: 'Menu' }).click();
      await muc.getByRole('button', { name: "Inviter quelqu'un" }).click();
      const invite = lea.getByRole('dialog').filter({ hasText: 'Inviter quelqu’un à ce salon' });
      await invite.getByRole('textbox', { name: 'utilisateur@exemple.org' }).fill('hugo.bernard@localhost');
      await invite.getByRole('button', { name: 'Inviter' }).click();
      const joined = await hugo.step('joined');
      assert.equal(joined, `joined ${roomName}@conference.localhost`);
      await muc.locator('converse-muc-sidebar').getByText('BERNARD Hugo').waitFor();
      const roomEditor = muc.getByRole('textbox', { name: 'Message' });
      await roomEditor.fill(roomText);
      await roomEditor.press('Enter');
      await hugo.step('room');
      await muc.getByText(roomReply).waitFor();
      await shot(lea, 'converse-room');

      // XEP-0425 as Converse speaks it: Léa (the room's creator, a moderator) retracts
      // Hugo's message from its actions; the server deletes its text from the archive.
      const hugoMsg = muc.locator('.chat-msg').filter({ hasText: roomReply });
      await hugoMsg.hover();
      const toggle = hugoMsg.locator('converse-message-actions button.dropdown-toggle');
      if (await toggle.count()) await toggle.first().click();
      await hugoMsg.locator('.chat-msg__action-retract').click();
      await lea.locator('form.confirm button[type=submit]').click();
      await eventually(() =>
        assert.equal(sqlCount(server, "SELECT COUNT(*) FROM room_archive WHERE stanza LIKE '%je lis ça%'"), 0),
      );
      assert.equal(sqlCount(server, "SELECT COUNT(*) FROM room_archive WHERE stanza LIKE '%urn:xmpp:message-retract:1%'"), 1);
      await eventually(async () => assert.equal(await muc.getByText(roomReply).count(), 0));

      // a pupil of another class: refused, not in the roster
      await lea.locator('converse-roster').getByRole('button', { name: 'Menu' }).first().click();
      await lea.getByRole('button', { name: 'Ajouter un contact' }).click();
      await add.getByRole('textbox', { name: 'nom@exemple.org' }).fill('noah.robert@localhost');
      await add.getByRole('button', { name: 'Ajouter', exact: true }).click();
      await eventually(() => assert.ok(lea.errors.some((e) => e.includes("d'ajouter noah.robert@localhost comme contact"))));
      // Not among her contacts. (Since the server offers blocking, Converse opens a chat
      // with someone outside the roster and may list it apart, as a chat, not a contact.)
      const noahContact = lea
        .locator('converse-roster li.current-xmpp-contact')
        .filter({ hasText: /noah\.robert|ROBERT Noah/ });
      assert.equal(await noahContact.count(), 0);
      // Nothing else went wrong in the page but Converse's own alert for Noah and
      // the TypeError the issue reports for the room's notices (Converse's
      // shouldNotifyOfGroupMessage; the page loads the unminified converse.js so
      // that stacks name it).
      // Converse also leaves unhandled the refusals of what it asks about Noah once it
      // opened a chat with him (his vCard and archive: `forbidden`, the school's rules),
      // which surface as page errors named after Strophe's IQ callback ('…endIQ').
      const known = (e) =>
        e.startsWith("dialog: alert Désolé, une erreur est survenue en essayant d'ajouter noah.robert@localhost") ||
        e === 'pageerror: endIQ' ||
        (e.startsWith('pageerror: ') && stacks.some((st) => st.includes(e.slice(11)) && st.includes('shouldNotifyOfGroupMessage')));
      assert.deepEqual(lea.errors.filter((e) => !known(e)), [], stacks.join('\n'));
      assert.equal(await hugo.exited, 0, hugo.lines.join('\n'));
    } catch (e) {
      e.message += `\nclassmate:\n${hugo.lines.join('\n')}\nserver log:\n${server.logTail().slice(-4000)}`;
      throw e;
    } finally {
      hugo.proc.kill();
      await lea.context().close();
    }
  });
});

