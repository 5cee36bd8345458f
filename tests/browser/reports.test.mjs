// « Signaler » (issue 16): Léa, a pupil, reports Hugo from his contact menu
// after he wrote to her; the dialog (reason, details) passes axe and she is
// told « Ton signalement a été transmis à ton établissement. ». Then she
// reports his next message from the message's own menu (« … » on each
// received message, none on hers). The collège's local administrator (its
// reader while no safety staff is named) finds both under « Signalements » in
// the console, with Hugo's messages copied as text and the reported one
// marked, sets one « En cours » and adds a note; the screens pass axe. Then
// the collège's administrator names its CPE as safety staff (« Équipe de vie
// scolaire » in the structure's menu): she signs in to the console,
// sees only « Signalements », and the reports.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, eventually, launchBrowser, rightClick, signIn, startServer, writeTo } from './harness.mjs';
import { COLLEGE, LOCAL_ADMIN, announced, consoleSignIn, openConsole, openSection } from './admin-helpers.mjs';

describe('reports', () => {
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

  it('a pupil reports a contact; the school staff read it in the console', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await writeTo(hugo, 'MARTIN Léa', 'Personne ne veut de toi <b>ici</b>.');
    await lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByText('Personne ne veut de toi <b>ici</b>.').waitFor();

    await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Signaler' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Signaler BERNARD Hugo' });
    await dialog.getByText('Ton signalement sera transmis à ton établissement').waitFor();
    await dialog.getByRole('radio', { name: 'Harcèlement, insultes ou menaces' }).check();
    await dialog.getByRole('textbox', { name: 'Précisions (facultatif)' }).fill('Il recommence tous les soirs.');
    await checkA11y(lea, 'the report dialog');
    await dialog.getByRole('button', { name: 'Envoyer le signalement' }).click();
    await dialog.waitFor({ state: 'detached' });
    await lea.getByRole('status').getByText('Ton signalement a été transmis à ton établissement.').waitFor();

    // A message of his, from the message's own menu.
    await writeTo(hugo, 'MARTIN Léa', 'Demain tu vas voir.');
    const panel = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await panel.getByText('Demain tu vas voir.').waitFor();
    const actions = panel.getByRole('button', { name: /^Options du message de BERNARD Hugo de / });
    assert.equal(await actions.count(), 2, 'one per received message, none on hers');
    await actions.last().click();
    await lea.getByRole('menu').getByRole('menuitem', { name: 'Signaler ce message' }).click();
    const msgDialog = lea.getByRole('dialog', { name: 'Signaler le message de BERNARD Hugo' });
    await msgDialog.getByRole('radio', { name: 'Harcèlement, insultes ou menaces' }).check();
    await msgDialog.getByRole('button', { name: 'Envoyer le signalement' }).click();
    await msgDialog.waitFor({ state: 'detached' });
    await eventually(async () =>
      assert.equal(await lea.getByRole('status').getByText('Ton signalement a été transmis à ton établissement.').count(), 2),
    );
    await checkA11y(lea, 'a conversation with the messages\' menu buttons');

    // The collège's local administrator reads it.
    const admin = await openConsole(browser, server, { axe: true });
    await consoleSignIn(admin, LOCAL_ADMIN);
    await admin.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Signalements' }).click();
    await admin.getByRole('heading', { name: 'Signalements', level: 1 }).waitFor();
    const table = admin.getByRole('table', { name: /Signalements de Collège Jean Moulin/ });
    const rows = table.getByRole('row').filter({ hasText: 'MARTIN Léa' });
    await eventually(async () => assert.equal(await rows.count(), 2));
    for (const row of await rows.all()) {
      assert.match(await row.innerText(), /Nouveau[\s\S]*MARTIN Léa[\s\S]*BERNARD Hugo[\s\S]*Harcèlement ou insulte/);
    }
    await checkA11y(admin, 'the reports list');
    // The older one: the contact, with the last messages exchanged.
    await rows.nth(1).getByRole('link').click();
    await admin.getByRole('heading', { name: /Signalement n° \d+/, level: 1 }).waitFor();
    await admin.getByText('Il recommence tous les soirs.').waitFor();
    // Hugo's message, copied as text (never markup).
    let messages = admin.locator('.report-messages');
    await messages.getByText('Personne ne veut de toi <b>ici</b>.').waitFor();
    assert.equal(await messages.locator('b').count(), 0);
    assert.equal(await messages.getByText('Message signalé').count(), 0);
    await admin.getByRole('link', { name: 'Retour aux signalements' }).click();
    // The newer one: the message, marked among its context.
    await rows.first().getByRole('link').click();
    await admin.getByRole('heading', { name: /Signalement n° \d+/, level: 1 }).waitFor();
    messages = admin.locator('.report-messages');
    const flagged = messages.getByRole('listitem').filter({ hasText: 'Message signalé' });
    await flagged.waitFor();
    assert.match(await flagged.innerText(), /Demain tu vas voir\./);
    await messages.getByText('Personne ne veut de toi <b>ici</b>.').waitFor();

    await admin.getByRole('combobox', { name: 'Statut du signalement' }).selectOption('in_progress');
    await admin.getByRole('button', { name: 'Enregistrer le statut' }).click();
    await announced(admin, 'Statut enregistré : En cours.');
    await admin.getByRole('button', { name: 'Ajouter la note' }).click();
    await admin.getByText('Écrivez la note avant de l’ajouter.').waitFor();
    await admin.getByRole('textbox', { name: 'Ajouter une note' }).fill('Parents de Hugo convoqués.');
    await admin.getByRole('button', { name: 'Ajouter la note' }).click();
    await announced(admin, 'Note ajoutée.');
    await admin.locator('.report-notes').getByText('Parents de Hugo convoqués.').waitFor();
    await checkA11y(admin, 'a report');

    // The collège names its CPE: she reads the reports, and nothing else.
    await openSection(admin, COLLEGE.name, 'Équipe de vie scolaire');
    await admin.getByText(/Aucune équipe nommée : les signalements sont lus par défaut par GIRARD Sylvie/).waitFor();
    await admin.getByRole('button', { name: 'Enregistrer' }).click();
    await admin.getByText('Cochez au moins une personne, ou revenez au choix par défaut.').waitFor();
    await admin.getByRole('group', { name: /Équipe de vie scolaire/ }).getByRole('checkbox', { name: 'MOREAU Claire' }).check();
    await admin.getByRole('button', { name: 'Enregistrer' }).click();
    await announced(admin, 'Équipe de vie scolaire enregistrée.');
    await admin.getByText('Les signalements sont lus par : MOREAU Claire.').waitFor();
    await checkA11y(admin, 'who reads the reports');
    // The administrator no longer reads them: after a reload, no « Signalements » for him.
    await admin.reload();
    const adminNav = admin.getByRole('navigation', { name: 'Menu de la console' });
    await adminNav.getByRole('link', { name: 'Établissements' }).waitFor();
    assert.equal(await adminNav.getByRole('link', { name: 'Signalements' }).count(), 0);
    // Nor, with them, access to the members' archives.
    assert.equal(await adminNav.getByRole('link', { name: 'Accès aux archives' }).count(), 0);
    const cpe = await openConsole(browser, server);
    await cpe.getByRole('textbox', { name: 'Identifiant' }).fill('claire.moreau');
    await cpe.getByLabel('Mot de passe').fill('demo');
    await cpe.getByRole('button', { name: 'Se connecter' }).click();
    await cpe.getByRole('heading', { name: 'Signalements', level: 1 }).waitFor();
    const nav = cpe.getByRole('navigation', { name: 'Menu de la console' });
    // The safety staff read the reports and, under a grant, the members' archives.
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ['Signalements', 'Accès aux archives']);
    await cpe.getByRole('table', { name: /Signalements de Collège Jean Moulin/ }).getByText('En cours').waitFor();

    for (const page of [lea, hugo, admin, cpe]) assert.deepEqual(page.errors, []);
  });
});
