// « Accès aux archives », « Mes données » and « Photos des élèves » (issue
// 16): Hugo writes to Léa from the web client; Léa downloads her own data
// from « Réglages » (a wrong password refused); the collège's local administrator (its archive
// reader while no safety staff is named) asks in the console for access to
// Léa's archives — without a reason it is refused in French — then with one:
// the access is listed with its reason and end, and « Lire » shows Hugo's
// message as text (HTML not run). The grant and the reading are in the audit
// log. On the structure's « Accès » page, « Photos des élèves » is off by
// default and can be allowed. The screens pass axe.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { befriend, eventually, launchBrowser, signIn, startServer, writeTo } from './harness.mjs';
import { COLLEGE, LOCAL_ADMIN, announced, checkA11y, consoleSignIn, openConsole, openSection } from './admin-helpers.mjs';

describe('archive access', () => {
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

  it("the school's staff read a pupil's archive only with a reason, traced", async () => {
    const lea = await signIn(browser, server, 'lea.martin');
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await writeTo(hugo, 'MARTIN Léa', 'Tu vas voir <b>demain</b>.');
    await lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByText('Tu vas voir <b>demain</b>.').waitFor();

    // Léa downloads her own data from « Réglages » (« Mes données »), with her password.
    await lea.getByRole('button', { name: 'Réglages' }).click();
    const settings = lea.getByRole('dialog', { name: 'Réglages' });
    const mine = settings.getByRole('group', { name: 'Mes données' });
    await mine.getByText(/Télécharge tout ce que le serveur du chat garde de toi/).waitFor();
    await mine.getByLabel('Mot de passe').fill('faux');
    await mine.getByRole('button', { name: 'Télécharger mes données' }).click();
    await mine.getByRole('alert').getByText('Mot de passe incorrect.').waitFor();
    await mine.getByLabel('Mot de passe').fill('demo');
    const [download] = await Promise.all([
      lea.waitForEvent('download'),
      mine.getByRole('button', { name: 'Télécharger mes données' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'causerie-lea.martin.json');
    const doc = JSON.parse(await readFile(await download.path(), 'utf8'));
    assert.equal(doc.account.login, 'lea.martin');
    assert.ok(doc.archive.some((m) => m.stanza.includes('Tu vas voir')), 'her conversation is in it');
    await mine.getByText('Tes données ont été téléchargées.').waitFor();
    await settings.getByRole('button', { name: 'Fermer' }).click();

    const admin = await openConsole(browser, server, { axe: true });
    await consoleSignIn(admin, LOCAL_ADMIN);
    await admin.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Accès aux archives' }).click();
    await admin.getByRole('heading', { name: 'Accès aux archives', level: 1 }).waitFor();
    await admin.getByText('Aucun accès demandé.').waitFor();
    await checkA11y(admin, 'the archive access screen');

    await admin.getByRole('textbox', { name: 'Identifiant de la personne' }).fill('lea.martin');
    await admin.getByRole('button', { name: "Demander l'accès" }).click();
    await admin.getByText("Saisissez l'identifiant de la personne et le motif.").waitFor();
    await admin.getByRole('textbox', { name: /^Motif/ }).fill('court');
    await admin.getByRole('button', { name: "Demander l'accès" }).click();
    await admin.getByText(/Le motif est obligatoire : 10 à 1000 caractères/).waitFor();

    await admin.getByRole('textbox', { name: /^Motif/ }).fill('Signalement n° 3 : menaces de BERNARD Hugo');
    await admin.getByRole('button', { name: "Demander l'accès" }).click();
    await announced(admin, 'Accès accordé pour MARTIN Léa');
    const table = admin.getByRole('table', { name: /Accès aux archives de Collège Jean Moulin/ });
    const row = table.getByRole('row').filter({ hasText: 'Signalement n° 3' });
    assert.match(await row.innerText(), /MARTIN Léa[\s\S]*GIRARD Sylvie[\s\S]*Signalement n° 3 : menaces de BERNARD Hugo/);

    await row.getByRole('link', { name: 'MARTIN Léa — Lire' }).click();
    await admin.getByRole('heading', { name: 'Archives de MARTIN Léa', level: 1 }).waitFor();
    await admin.getByText(/Motif : Signalement n° 3/).waitFor();
    await admin.getByRole('button', { name: 'Afficher' }).click();
    const messages = admin.getByRole('table', { name: 'Messages, du plus ancien au plus récent' });
    await messages.getByText('Tu vas voir <b>demain</b>.').waitFor();
    assert.equal(await messages.locator('b').count(), 0, 'the body is text, never markup');
    await checkA11y(admin, 'the archive reading screen');

    // Traced: the grant and the reading, in the audit log.
    await admin.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: "Journal d'audit" }).click();
    await eventually(async () => {
      const text = await admin.getByRole('main').innerText();
      assert.match(text, /archive\.grant/);
      assert.match(text, /archive\.read/);
    });
  });

  it("pupils' photos are off by default and the school may allow them", async () => {
    const admin = await openConsole(browser, server, { axe: true });
    await consoleSignIn(admin, LOCAL_ADMIN);
    await openSection(admin, COLLEGE.name, 'Accès au service Chat');
    await admin.getByRole('heading', { name: 'Photos des élèves', level: 2 }).waitFor();
    await admin.getByText('Les élèves ne peuvent pas mettre de photo de profil (par défaut).').waitFor();
    await admin.getByRole('button', { name: 'Autoriser les photos des élèves' }).click();
    await announced(admin, 'Réglage des photos enregistré.');
    await admin.getByText('Les élèves peuvent mettre une photo de profil.').waitFor();
    await checkA11y(admin, "the structure's page with the photos setting");
  });
});
