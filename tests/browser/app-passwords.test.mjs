// « Mots de passe d'application » (issue 18): in « Réglages », DUPONT Paul (a
// parent, signed in with his password) confirms with it, creates an app
// password for his phone: it is shown once with his address and the server,
// and a standard XMPP app (slixmpp, the interop suite's .venv) logs in with
// it; the list shows it used; « Supprimer » revokes it, which disconnects the
// app, and the app's next login is refused. The secret is not shown again.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, checkA11y, eventually, launchBrowser, signIn, startServer } from './harness.mjs';
import { COLLEGE, LOCAL_ADMIN, announced, consoleSignIn, openConsole, openSection } from './admin-helpers.mjs';

const PYTHON = join(REPO, '.venv/bin/python');

/** The app (app_login.py) as a child process: its printed lines and its exit code. */
function app(server, password, mech, jid = 'paul.martin@localhost') {
  const out = [];
  const proc = spawn(PYTHON, [join(REPO, 'tests/browser/app_login.py'), String(server.c2sPort), jid, password, mech], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (d) => out.push(String(d)));
  proc.stderr.on('data', (d) => out.push(String(d)));
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  return { out, exited, proc, said: (line) => eventually(async () => assert.ok(out.join('').includes(line), out.join('')), 20_000) };
}

describe('app passwords', () => {
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

  it('a parent makes one for his phone, an app logs in with it, he revokes it', async () => {
    const paul = await signIn(browser, server, 'paul.martin', { axe: true });
    await paul.getByRole('button', { name: 'Réglages' }).click();
    const settings = paul.getByRole('dialog', { name: 'Réglages' });
    const box = settings.getByRole('group', { name: "Mots de passe d'application" });
    await box.getByText(/créez un mot de passe d'application pour chaque appareil/).waitFor();
    await box.getByLabel('Mot de passe').fill('faux');
    await box.getByRole('button', { name: "Afficher mes mots de passe d'application" }).click();
    await box.getByRole('alert').getByText('Mot de passe incorrect.').waitFor();
    await box.getByLabel('Mot de passe').fill('demo');
    await box.getByRole('button', { name: "Afficher mes mots de passe d'application" }).click();
    await box.getByText("Aucun mot de passe d'application pour l'instant.").waitFor();

    await box.getByRole('button', { name: 'Créer un mot de passe' }).click();
    await box.getByRole('alert').getByText("Donnez un nom à l'appareil.").waitFor();
    await box.getByLabel("Nom de l'appareil").fill('Téléphone de Paul');
    await box.getByRole('button', { name: 'Créer un mot de passe' }).click();
    const shown = box.getByRole('status').filter({ hasText: 'Voici le mot de passe pour « Téléphone de Paul »' });
    await shown.getByText(/Recopiez-le maintenant dans votre application : il ne sera plus jamais affiché/).waitFor();
    const secret = (await shown.locator('.app-password-secret').textContent()).trim();
    assert.match(secret, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    assert.match(await shown.innerText(), /paul\.martin@localhost[\s\S]*Serveur[\s\S]*localhost/);
    await checkA11y(paul, 'the app passwords in « Réglages »');

    // A standard app logs in with it (SCRAM-SHA-256), and stays.
    const phone = app(server, secret, 'SCRAM-SHA-256');
    try {
      await phone.said('logged in');
      // Shown once: gone when noted, and the list says it was used.
      await shown.getByRole('button', { name: "C'est noté" }).click();
      await eventually(async () => assert.equal(await box.getByText(secret).count(), 0));
      const item = box.getByRole('listitem').filter({ hasText: 'Téléphone de Paul' });
      await item.getByText(/jamais utilisé/).waitFor();
      // Reopening the settings reads the list again: the last use is there.
      await settings.getByRole('button', { name: 'Fermer' }).click();
      await paul.getByRole('button', { name: 'Réglages' }).click();
      await box.getByLabel('Mot de passe').fill('demo');
      await box.getByRole('button', { name: "Afficher mes mots de passe d'application" }).click();
      await item.getByText(/dernière utilisation le/).waitFor();
      assert.equal(await box.getByText(secret).count(), 0, 'never shown again');

      // Revoked: the app is disconnected, and its next login refused.
      await item.getByRole('button', { name: 'Supprimer « Téléphone de Paul »' }).click();
      await box.getByRole('status').getByText(/« Téléphone de Paul » est supprimé/).waitFor();
      await phone.said('disconnected');
      assert.equal(await phone.exited, 0, phone.out.join(''));
    } finally {
      phone.proc.kill();
    }
    const again = app(server, secret, 'PLAIN');
    assert.equal(await again.exited, 1, again.out.join(''));
    assert.match(again.out.join(''), /refused not-authorized/);
    await box.getByText("Aucun mot de passe d'application pour l'instant.").waitFor();
    assert.deepEqual(paul.errors, []);
  });

  it('the school makes one for a teacher in the console, and deletes it', async () => {
    const admin = await openConsole(browser, server);
    await consoleSignIn(admin, LOCAL_ADMIN);
    await openSection(admin, COLLEGE.name, 'Utilisateurs');
    await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Durand');
    await admin.getByRole('button', { name: 'Rechercher' }).click();
    await admin.getByRole('link', { name: 'DURAND Anne' }).click();
    const section = admin.getByRole('region', { name: "Mots de passe d'application" });
    await section.getByLabel(/Nom du nouveau mot de passe/).fill('Ordinateur de la salle des profs');
    await section.getByRole('button', { name: 'Créer un mot de passe' }).click();
    await announced(admin, 'Mot de passe « Ordinateur de la salle des profs » créé.');
    const secret = (await section.getByTestId('app-password-secret').textContent()).trim();
    assert.ok(secret.length >= 16, secret);
    await section.getByText('anne.durand@localhost').waitFor();
    const desk = app(server, secret, 'SCRAM-SHA-256', 'anne.durand@localhost');
    try {
      await desk.said('logged in');
      await section.getByRole('button', { name: 'Masquer' }).click();
      assert.equal(await section.getByText(secret).count(), 0, 'shown once');
      await section.getByRole('button', { name: 'Supprimer « Ordinateur de la salle des profs »' }).click();
      await admin.getByRole('alertdialog', { name: 'Supprimer' }).getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'Mot de passe « Ordinateur de la salle des profs » supprimé.');
      await desk.said('disconnected');
    } finally {
      desk.proc.kill();
    }
    // A pupil may not have one by default: the card says so and offers none.
    await openSection(admin, COLLEGE.name, 'Utilisateurs');
    await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Léa');
    await admin.getByRole('button', { name: 'Rechercher' }).click();
    await admin.getByRole('link', { name: 'MARTIN Léa' }).click();
    await admin.getByText("Les mots de passe d'application ne sont pas permis pour MARTIN Léa dans son établissement.").waitFor();
    assert.equal(await admin.getByRole('button', { name: 'Créer un mot de passe' }).count(), 0);
    // The school allows them to its pupils: now it can make one for Léa.
    await openSection(admin, COLLEGE.name, 'Accès au service Chat');
    const policy = admin.getByRole('region', { name: "Mots de passe d'application" });
    assert.equal(await policy.getByLabel('Les élèves').isChecked(), false);
    assert.equal(await policy.getByLabel(/Les adultes/).isChecked(), true);
    await policy.getByLabel('Les élèves').check();
    await policy.getByRole('button', { name: 'Appliquer' }).click();
    await announced(admin, "Mots de passe d'application : réglage enregistré.");
    await openSection(admin, COLLEGE.name, 'Utilisateurs');
    await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Léa');
    await admin.getByRole('button', { name: 'Rechercher' }).click();
    await admin.getByRole('link', { name: 'MARTIN Léa' }).click();
    await admin.getByRole('button', { name: 'Créer un mot de passe' }).waitFor();
    assert.deepEqual(admin.errors, []);
    await admin.context().close();
  });
});
