// Moderation (issue 16), end to end: Hugo writes to Léa, a pupil; she reports
// the message from its menu in the web client. The collège's CPE (its safety
// staff, named with `causerie reports staff`) finds the report under
// « Signalements » in the console and deletes the message (« Supprimer les
// messages signalés », confirmed « Oui »). The message is gone from Léa's
// client and from Hugo's, live, replaced by « Message supprimé par la
// modération »; a fresh sign-in shows the same from the archive; and the
// database holds the text nowhere but in the report's own copy (both accounts'
// archives keep a tombstone, no offline copy). The screens pass axe.
// Then in a group conversation: its creator (Léa) deletes Hugo's message with
// « Supprimer pour tout le monde » (XEP-0425) from the message's menu; Hugo has
// no such item; both see « Message supprimé par la modération ».

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, cli, eventually, launchBrowser, rightClick, signIn, startServer, writeTo } from './harness.mjs';
import { COLLEGE, announced, openConsole } from './admin-helpers.mjs';

const TEXT = 'Demain à la sortie tu vas voir.';
const GONE = 'Message supprimé par la modération';

/** One number from the server's database (sqlite3). */
function count(server, sql) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', join(server.root, 'data', 'causerie.db'), sql], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

describe('moderation', () => {
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

  it('a pupil reports a message, the CPE deletes it: gone from both clients and every archive', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await writeTo(hugo, 'MARTIN Léa', 'Salut.');
    await writeTo(hugo, 'MARTIN Léa', TEXT);
    const panel = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await panel.getByText(TEXT).waitFor();
    const hugoPanel = hugo.getByRole('tabpanel', { name: 'MARTIN Léa' });
    await hugoPanel.getByText(TEXT).waitFor();

    // Léa reports the message from its own menu.
    await panel.getByRole('button', { name: /^Options du message de BERNARD Hugo de / }).last().click();
    await lea.getByRole('menu').getByRole('menuitem', { name: 'Signaler ce message' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Signaler le message de BERNARD Hugo' });
    await dialog.getByRole('radio', { name: 'Harcèlement, insultes ou menaces' }).check();
    await dialog.getByRole('button', { name: 'Envoyer le signalement' }).click();
    await dialog.waitFor({ state: 'detached' });
    await lea.getByRole('status').getByText('Ton signalement a été transmis à ton établissement.').waitFor();

    // The collège names its CPE; she signs in to the console and opens the report.
    cli(server, 'reports', 'staff', COLLEGE.id, 'claire.moreau');
    const cpe = await openConsole(browser, server, { axe: true });
    await cpe.getByRole('textbox', { name: 'Identifiant' }).fill('claire.moreau');
    await cpe.getByLabel('Mot de passe').fill('demo');
    await cpe.getByRole('button', { name: 'Se connecter' }).click();
    await cpe.getByRole('heading', { name: 'Signalements', level: 1 }).waitFor();
    const row = cpe.getByRole('table', { name: /Signalements de Collège Jean Moulin/ }).getByRole('row').filter({ hasText: 'MARTIN Léa' });
    await row.getByRole('link').click();
    await cpe.getByRole('heading', { name: /Signalement n° \d+/, level: 1 }).waitFor();
    const flagged = cpe.locator('.report-messages').getByRole('listitem').filter({ hasText: 'Message signalé' });
    assert.match(await flagged.innerText(), /Demain à la sortie tu vas voir\./);
    await cpe.getByRole('heading', { name: 'Agir', level: 2 }).waitFor();
    // A 1:1 report: no room actions.
    assert.equal(await cpe.getByRole('button', { name: 'Fermer la conversation' }).count(), 0);
    await checkA11y(cpe, 'a report with its actions');

    // « Supprimer les messages signalés », « Non » first, then « Oui ».
    await cpe.getByRole('button', { name: 'Supprimer les messages signalés' }).click();
    let confirm = cpe.getByRole('alertdialog', { name: 'Supprimer les messages signalés' });
    await confirm.waitFor();
    await checkA11y(cpe, 'the confirmation of a deletion');
    await confirm.getByRole('button', { name: 'Non' }).click();
    await confirm.waitFor({ state: 'detached' });
    await panel.getByText(TEXT).waitFor();
    await cpe.getByRole('button', { name: 'Supprimer les messages signalés' }).click();
    confirm = cpe.getByRole('alertdialog', { name: 'Supprimer les messages signalés' });
    await confirm.getByRole('button', { name: 'Oui' }).click();
    await announced(cpe, 'Messages supprimés (1).');
    await cpe.locator('.report-notes').getByText(/messages supprimés pour tout le monde \(1\)/).waitFor();
    // The report keeps its copy.
    await cpe.locator('.report-messages').getByText(TEXT).waitFor();

    // Gone, live, from both clients; the other message stays.
    for (const p of [panel, hugoPanel]) {
      await p.getByText(GONE).waitFor();
      await eventually(async () => assert.equal(await p.getByText(TEXT).count(), 0));
      await p.getByText('Salut.').waitFor();
    }
    // No « Signaler » on a deleted message.
    assert.equal(await panel.getByRole('button', { name: /^Options du message de BERNARD Hugo de / }).count(), 1);
    await checkA11y(lea, 'a conversation with a deleted message');

    // From the archive: another device shows the tombstone, never the text.
    const lea2 = await signIn(browser, server, 'lea.martin');
    await lea2.getByRole('treeitem', { name: 'BERNARD Hugo', exact: true }).focus();
    await lea2.keyboard.press('Enter');
    const panel2 = lea2.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await panel2.getByText('Salut.').waitFor();
    await panel2.getByText(GONE).waitFor();
    assert.equal(await panel2.getByText(TEXT).count(), 0);

    // The database: nowhere but in the report's own copy.
    const like = `'%sortie tu vas voir%'`;
    assert.equal(count(server, `SELECT COUNT(*) FROM account_archive WHERE stanza LIKE ${like}`), 0);
    assert.equal(count(server, `SELECT COUNT(*) FROM offline_messages WHERE stanza LIKE ${like}`), 0);
    assert.equal(count(server, `SELECT COUNT(*) FROM account_archive WHERE stanza LIKE '%urn:xmpp:message-retract:1%'`), 2);
    assert.equal(count(server, `SELECT COUNT(*) FROM report_messages WHERE stanza LIKE ${like}`), 1);

    for (const page of [lea, hugo, cpe, lea2]) assert.deepEqual(page.errors, []);
  });
  it("a conversation's creator deletes a message for everyone from the web client", async () => {
    const lea = await signIn(browser, server, 'lea.martin');
    const hugo = await signIn(browser, server, 'hugo.bernard');
    const ROOM = 'Sortie au musée';
    const menu = await rightClick(lea, 'BERNARD Hugo');
    await menu.getByRole('menuitem', { name: 'Commencer conversation' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Commencer conversation' });
    await dialog.getByRole('textbox', { name: 'Nom de la conversation' }).fill(ROOM);
    await dialog.getByRole('button', { name: 'OK' }).click();
    const panel = lea.getByRole('tabpanel', { name: ROOM });
    await panel.getByText('Le salon de discussion est maintenant déverrouillé').waitFor();
    await hugo.getByRole('tab', { name: /^Mes demandes \(\d+\)$/ }).click();
    await hugo.getByRole('button', { name: 'Accepter' }).click();
    await hugo.getByRole('tab', { name: 'Contacts' }).click();
    const hugoPanel = hugo.getByRole('tabpanel', { name: ROOM });
    const editor = hugoPanel.getByRole('textbox', { name: 'Message' });
    await editor.fill('Le musée c\'est nul.');
    await editor.press('Enter');
    await editor.fill('Je viendrai quand même.');
    await editor.press('Enter');
    await panel.getByText('Je viendrai quand même.').waitFor();

    // Hugo (a participant) has no « Supprimer pour tout le monde ».
    assert.equal(await hugoPanel.getByRole('button', { name: /^Options du message de BERNARD Hugo de / }).count(), 0);
    // Léa (the creator): the message's menu, « Non » first, then « Oui ».
    const options = panel.getByRole('button', { name: /^Options du message de BERNARD Hugo de / });
    await options.first().click();
    await lea.getByRole('menu').getByRole('menuitem', { name: 'Supprimer pour tout le monde' }).click();
    const confirm = lea.getByRole('alertdialog', { name: 'Supprimer pour tout le monde' });
    await confirm.getByRole('button', { name: 'Non' }).click();
    await panel.getByText('Le musée c\'est nul.').waitFor();
    await options.first().click();
    await lea.getByRole('menu').getByRole('menuitem', { name: 'Supprimer pour tout le monde' }).click();
    await lea.getByRole('alertdialog', { name: 'Supprimer pour tout le monde' }).getByRole('button', { name: 'Oui' }).click();
    for (const p of [panel, hugoPanel]) {
      await p.getByText(GONE).waitFor();
      await eventually(async () => assert.equal(await p.getByText('Le musée c\'est nul.').count(), 0));
      await p.getByText('Je viendrai quand même.').waitFor();
    }
    assert.equal(count(server, `SELECT COUNT(*) FROM room_archive WHERE stanza LIKE '%est nul.%'`), 0);
    assert.equal(count(server, `SELECT COUNT(*) FROM room_archive WHERE stanza LIKE '%viendrai quand%'`), 1);
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
