// The admin console (/admin, issue #6) against the real server with the demo
// school and a second structure: login errors in French (wrong password, not
// an administrator, locked out with the wait time), a local administrator
// sees only his structure, turning chat off for a profile refuses that
// profile at the chat's login, a rule change lets a refused message through
// and « Rétablir les règles par défaut » refuses it again, the audit log
// records it all and exports it as CSV.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, befriend, eventually, launchBrowser, rightClick, signIn, startServer, watch } from './harness.mjs';
import {
  COLLEGE,
  LOCAL_ADMIN,
  LYCEE,
  LYCEE_ADMIN,
  SUPER_ADMIN,
  announced,
  consoleSignIn,
  extendSchool,
  openConsole,
  openSection,
} from './admin-helpers.mjs';

describe('admin console', () => {
  let server;
  let browser;
  let admin; // the collège's local administrator, signed in

  before(async () => {
    server = await startServer();
    extendSchool(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const onFailure = (f) => async () => {
    try {
      await f();
    } catch (e) {
      console.error(server.logTail());
      throw e;
    }
  };

  it(
    'login: missing fields, wrong password, not an administrator, locked out with the wait time, in French',
    onFailure(async () => {
      const page = await openConsole(browser, server);
      const alert = page.getByRole('alert');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await alert.getByText('Saisissez votre identifiant et votre mot de passe.').waitFor();

      await page.getByRole('textbox', { name: 'Identifiant' }).fill(LOCAL_ADMIN.login);
      await page.getByLabel('Mot de passe').fill('pas-le-bon');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await alert.getByText('Identifiant ou mot de passe incorrect.').waitFor();
      assert.equal(await page.getByLabel('Mot de passe').getAttribute('aria-invalid'), 'true');

      // A pupil is an account of the server, but no administrator.
      await page.getByRole('textbox', { name: 'Identifiant' }).fill('lea.martin');
      await page.getByLabel('Mot de passe').fill('demo');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await alert.getByText("Ce compte n'est pas un compte d'administrateur du chat.").waitFor();

      // Five failures lock the login for 15 minutes, even with the right password.
      await page.getByRole('textbox', { name: 'Identifiant' }).fill('marc.leroy');
      for (let i = 1; i <= 5; i++) {
        await page.getByLabel('Mot de passe').fill(`faux-${i}`);
        await page.getByRole('button', { name: 'Se connecter' }).click();
        await alert.getByText('Identifiant ou mot de passe incorrect.').waitFor();
        // Cleared between attempts so that each answer is a new one.
        await page.getByLabel('Mot de passe').fill('');
      }
      await page.getByLabel('Mot de passe').fill('demo');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      const locked = alert.getByText(/^Trop de tentatives échouées : ce compte est bloqué\. Réessayez dans (\d+) minute\(s\)\.$/);
      await locked.waitFor();
      const minutes = Number((await locked.textContent()).match(/(\d+) minute/)[1]);
      assert.ok(minutes >= 14 && minutes <= 15, `wait of ${minutes} minutes`);
      assert.equal(await page.getByRole('heading', { name: 'Établissements' }).count(), 0);

      // The English catalogue for an English browser.
      const en = await openConsole(browser, server, { locale: 'en-GB' });
      await en.getByRole('textbox', { name: 'Login' }).fill(LOCAL_ADMIN.login);
      await en.getByLabel('Password').fill('nope');
      await en.getByRole('button', { name: 'Sign in' }).click();
      await en.getByRole('alert').getByText('Wrong login or password.').waitFor();
      assert.equal(await en.evaluate(() => document.documentElement.lang), 'en');
      assert.deepEqual([...page.errors, ...en.errors], []);
    }),
  );

  it(
    'a local administrator sees only his structure',
    onFailure(async () => {
      const lycee = await consoleSignIn(await openConsole(browser, server), LYCEE_ADMIN);
      const table = lycee.getByRole('table', { name: 'Établissements que vous administrez' });
      await table.getByRole('link', { name: LYCEE.name }).waitFor();
      assert.equal(await table.getByRole('link', { name: COLLEGE.name }).count(), 0);
      assert.equal(await table.getByRole('row').count(), 2); // header + the lycée
      // The collège's pages, asked for by address, show nothing of it.
      await lycee.goto(`${server.url}/admin#/s/${COLLEGE.id}/users`);
      await lycee.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Martin');
      await lycee.getByRole('button', { name: 'Rechercher' }).click();
      await lycee.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
      assert.equal(await lycee.getByRole('link', { name: 'MARTIN Léa' }).count(), 0);
      // His own users are there; the collège's are not, whatever the search.
      await openSection(lycee, LYCEE.name, 'Utilisateurs');
      await lycee.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('');
      await lycee.getByRole('button', { name: 'Rechercher' }).click();
      await lycee.getByRole('link', { name: 'LEFEBVRE Tom' }).waitFor();
      assert.equal(await lycee.getByRole('link', { name: 'MARTIN Léa' }).count(), 0);

      admin = await consoleSignIn(await openConsole(browser, server), LOCAL_ADMIN);
      const mine = admin.getByRole('table', { name: 'Établissements que vous administrez' });
      await mine.getByRole('link', { name: COLLEGE.name }).waitFor();
      assert.equal(await mine.getByRole('link', { name: LYCEE.name }).count(), 0);
      assert.deepEqual([...lycee.errors, ...admin.errors], []);
    }),
  );

  it(
    '« Accès au service Chat »: a profile turned off is refused at the chat login, and back on',
    onFailure(async () => {
      await openSection(admin, COLLEGE.name, 'Accès au service Chat');
      const pupils = admin.getByRole('checkbox', { name: 'Élève', exact: true });
      assert.equal(await pupils.isChecked(), true); // default: every profile
      await pupils.uncheck();
      await admin.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Accès au service Chat enregistré.');

      // A pupil cannot sign in to the chat; a teacher can.
      const context = await browser.newContext({ locale: 'fr-FR' });
      context.setDefaultTimeout(TIMEOUT);
      const lea = watch(await context.newPage());
      await lea.goto(server.url);
      await lea.getByRole('textbox', { name: 'Identifiant' }).fill('lea.martin');
      await lea.getByLabel('Mot de passe').fill('demo');
      await lea.getByRole('button', { name: 'Se connecter' }).click();
      // The server's refusal speaks to a pupil with « tu ».
      await lea.getByRole('alert').getByText(/n'est pas ouvert au profil « Élève » dans ton établissement/).waitFor();
      assert.equal(await lea.getByRole('tab', { name: 'Contacts' }).count(), 0);
      const anne = await signIn(browser, server, 'anne.durand');

      // The pupil's card says why.
      await openSection(admin, COLLEGE.name, 'Utilisateurs');
      await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Léa');
      await admin.getByRole('button', { name: 'Rechercher' }).click();
      await admin.getByRole('link', { name: 'MARTIN Léa' }).click();
      await admin.getByText('Refusé : son profil n’a pas accès au service Chat').waitFor();

      await openSection(admin, COLLEGE.name, 'Accès au service Chat');
      await admin.getByRole('checkbox', { name: 'Élève', exact: true }).check();
      await admin.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Accès au service Chat enregistré.');
      await lea.getByRole('button', { name: 'Se connecter' }).click();
      await lea.getByRole('tab', { name: 'Contacts' }).waitFor();

      // The service off for the whole structure: the teacher, connected, is closed and refused.
      const service = admin.getByRole('switch', { name: 'Service Chat activé pour cet établissement' });
      await service.uncheck();
      await admin.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Accès au service Chat enregistré.');
      // … and to a teacher with « vous ».
      await anne.getByRole('alert').getByText("Le chat n'est pas activé dans votre établissement.").waitFor({ timeout: 15_000 });
      await service.check();
      await admin.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Accès au service Chat enregistré.');
      assert.deepEqual([...lea.errors, ...anne.errors, ...admin.errors], []);
      await context.close();
      await anne.context().close();
    }),
  );

  it(
    'a rule change lets a refused message through; « Rétablir les règles par défaut » refuses it again',
    onFailure(async () => {
      // Hugo (6e A) and Noah (6e B): by the default rules, pupils reach their own class only.
      const hugo = await signIn(browser, server, 'hugo.bernard');
      const noah = await signIn(browser, server, 'noah.robert');
      await (await rightClick(hugo, 'Tous mes contacts')).getByRole('menuitem', { name: 'Ajouter contacts' }).click();
      const search = hugo.getByRole('dialog', { name: 'Ajouter contacts' });
      await search.getByRole('searchbox', { name: 'Rechercher' }).fill('Robert');
      await search.getByText('Personne ne correspond à cette recherche.').waitFor();
      assert.equal(await search.getByRole('radio', { name: /ROBERT Noah/ }).count(), 0);
      await search.press('Escape');
      await search.waitFor({ state: 'detached' });

      // Rule 1 (pupils ↔ pupils, same class) becomes « même établissement ».
      await openSection(admin, COLLEGE.name, 'Règles de communication');
      await admin.getByText('Cet établissement utilise les règles par défaut.').waitFor();
      const rules = admin.getByRole('table', { name: 'Qui peut joindre qui' });
      const row1 = rules.getByRole('row').nth(1);
      assert.deepEqual(
        (await row1.getByRole('cell').allInnerTexts()).slice(0, 4).map((s) => s.split('\n')[0]),
        ['Élèves', 'Élèves', 'même classe', '⇄ dans les deux sens'],
      );
      await admin.getByRole('button', { name: 'Modifier la règle 1' }).click();
      const dialog = admin.getByRole('dialog', { name: 'Modifier la règle 1' });
      await dialog.getByRole('combobox', { name: 'Périmètre' }).selectOption({ label: 'même établissement' });
      await dialog.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Règle 1 modifiée.');
      await admin.getByText('Cet établissement utilise des règles personnalisées.').waitFor();
      assert.equal((await row1.getByRole('cell').nth(2).innerText()).split('\n')[0], 'même établissement');

      // From the next stanza on: Hugo finds Noah, they become contacts and talk.
      await befriend(hugo, noah, { requesterName: 'BERNARD Hugo', accepterName: 'ROBERT Noah', search: 'Robert' });
      await hugo.getByRole('treeitem', { name: 'ROBERT Noah' }).focus();
      await hugo.keyboard.press('Enter'); // starts the conversation with an available contact
      const conv = hugo.getByRole('tabpanel', { name: 'ROBERT Noah' });
      const editor = conv.getByRole('textbox', { name: 'Message' });
      const noahLog = () => noah.getByRole('tabpanel', { name: /^BERNARD Hugo/ }).getByRole('log');
      await editor.fill('Salut Noah, tu viens à la chorale ?');
      await editor.press('Enter');
      await noahLog().getByText('Salut Noah, tu viens à la chorale ?').waitFor();

      // Reset: the same pair is refused again, in French, and nothing reaches Noah.
      await admin.getByRole('button', { name: 'Rétablir les règles par défaut' }).click();
      const confirm = admin.getByRole('alertdialog', { name: 'Rétablir les règles par défaut' });
      await confirm.getByText(/Les règles personnalisées de cet établissement seront remplacées/).waitFor();
      // « Non » has the focus first.
      assert.equal(await confirm.getByRole('button', { name: 'Non' }).evaluate((b) => b === document.activeElement), true);
      await confirm.getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'Les règles par défaut sont rétablies.');
      await admin.getByText('Cet établissement utilise les règles par défaut.').waitFor();
      assert.equal((await row1.getByRole('cell').nth(2).innerText()).split('\n')[0], 'même classe');

      await editor.fill('Et maintenant ?');
      await editor.press('Enter');
      await conv.getByRole('log').getByText(/^Message non remis : Les règles de ton établissement/).waitFor();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await noahLog().getByText('Et maintenant ?').count(), 0);

      // The change again: delivered.
      await admin.getByRole('button', { name: 'Modifier la règle 1' }).click();
      await dialog.getByRole('combobox', { name: 'Périmètre' }).selectOption({ label: 'même établissement' });
      await dialog.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Règle 1 modifiée.');
      await editor.fill('Cette fois ça passe.');
      await editor.press('Enter');
      await noahLog().getByText('Cette fois ça passe.').waitFor();

      // And reset once more, for the tests that follow.
      await admin.getByRole('button', { name: 'Rétablir les règles par défaut' }).click();
      await confirm.getByRole('button', { name: 'Oui' }).click();
      await admin.getByText('Cet établissement utilise les règles par défaut.').waitFor();
      await editor.fill('Refusé de nouveau ?');
      await editor.press('Enter');
      await eventually(async () =>
        assert.equal(await conv.getByRole('log').getByText(/^Message non remis/).count(), 2),
      );
      assert.deepEqual([...hugo.errors, ...noah.errors, ...admin.errors], []);
      await hugo.context().close();
      await noah.context().close();
    }),
  );

  it(
    'a rule the server refuses shows its message near the field and changes nothing',
    onFailure(async () => {
      await admin.getByRole('button', { name: 'Ajouter une règle' }).click();
      const dialog = admin.getByRole('dialog', { name: 'Ajouter une règle' });
      // Nothing ticked: caught before asking.
      await dialog.getByRole('button', { name: 'Enregistrer' }).click();
      await dialog.getByRole('alert').getByText('Choisissez au moins un profil.').waitFor();
      await dialog.getByRole('group', { name: 'Qui (profils)' }).getByRole('checkbox', { name: 'Invité' }).check();
      await dialog.getByRole('group', { name: 'Peut joindre (profils)' }).getByRole('checkbox', { name: 'Enseignant' }).check();
      await dialog.getByRole('combobox', { name: 'Périmètre' }).selectOption({ label: 'même établissement' });
      await dialog.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Règle ajoutée.');
      const rules = admin.getByRole('table', { name: 'Qui peut joindre qui' });
      await rules.getByRole('row', { name: /^8 Invités Enseignants même établissement/ }).waitFor();
      await admin.getByRole('button', { name: 'Supprimer la règle 8' }).click();
      await admin.getByRole('alertdialog').getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'Règle 8 supprimée.');
      assert.equal(await rules.getByRole('row').count(), 8);
      await admin.getByRole('button', { name: 'Rétablir les règles par défaut' }).click();
      await admin.getByRole('alertdialog').getByRole('button', { name: 'Oui' }).click();
      await admin.getByText('Cet établissement utilise les règles par défaut.').waitFor();
    }),
  );

  it(
    "the audit log shows the changes, who made them, before and after, and exports them as CSV",
    onFailure(async () => {
      await admin.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: "Journal d'audit" }).click();
      const table = admin.getByRole('table', { name: 'Modifications, de la plus récente à la plus ancienne' });
      await table.waitFor();
      const rows = await table.getByRole('row').allInnerTexts();
      const body = rows.slice(1);
      assert.ok(body.length >= 6, `${body.length} rows:\n${rows.join('\n')}`);
      assert.ok(body.every((r) => r.includes(LOCAL_ADMIN.login)), rows.join('\n'));
      // The access changes: pupils off and on, the service off and on (newest first).
      const access = body.filter((r) => r.includes('structure.access'));
      assert.equal(access.length, 4, rows.join('\n'));
      assert.match(access[3], /Accès au service Chat modifié/);
      assert.ok(body.some((r) => /rules/i.test(r) && r.includes('same_structure')), rows.join('\n'));
      // The CSV export, with the console's session.
      const link = admin.getByRole('link', { name: 'Exporter en CSV' });
      const href = await link.getAttribute('href');
      assert.equal(href, '/admin/api/audit.csv');
      const csv = await admin.context().request.get(`${server.url}${href}`);
      assert.equal(csv.status(), 200);
      assert.match(csv.headers()['content-type'], /^text\/csv/);
      const lines = (await csv.text()).trim().split(/\r?\n/);
      assert.equal(lines[0], 'id,at,actor,action,structure,target,before,after');
      assert.ok(lines.length - 1 >= body.length, `${lines.length - 1} CSV rows for ${body.length} shown`);
      assert.deepEqual(admin.errors, []);
    }),
  );

  it(
    'the super-administrator sees every structure and the administrators, grants and revokes',
    onFailure(async () => {
      const root = await consoleSignIn(await openConsole(browser, server), SUPER_ADMIN);
      const all = root.getByRole('table', { name: 'Établissements que vous administrez' });
      await all.getByRole('link', { name: COLLEGE.name }).waitFor();
      await all.getByRole('link', { name: LYCEE.name }).waitFor();
      await root.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Administrateurs' }).click();
      const admins = root.getByRole('table', { name: 'Administrateurs du chat' });
      await admins.getByRole('row', { name: /^GIRARD Sylvie admin\.college administrateur local Collège Jean Moulin annuaire$/ }).waitFor();
      await admins.getByRole('row', { name: /^FONTAINE Paul admin\.lycee administrateur local Lycée Victor Hugo annuaire$/ }).waitFor();

      // Claire Moreau (staff of the collège) is not an administrator yet.
      const claire = await openConsole(browser, server);
      await claire.getByRole('textbox', { name: 'Identifiant' }).fill('claire.moreau');
      await claire.getByLabel('Mot de passe').fill('demo');
      await claire.getByRole('button', { name: 'Se connecter' }).click();
      await claire.getByRole('alert').getByText("Ce compte n'est pas un compte d'administrateur du chat.").waitFor();

      // An unknown login is refused near the field.
      await root.getByRole('textbox', { name: 'Identifiant de la personne' }).fill('personne.inconnue');
      await root.getByRole('button', { name: 'Nommer' }).click();
      await root.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor();
      assert.equal(await root.getByRole('textbox', { name: 'Identifiant de la personne' }).getAttribute('aria-invalid'), 'true');

      await root.getByRole('textbox', { name: 'Identifiant de la personne' }).fill('claire.moreau');
      await root.getByRole('combobox', { name: 'Établissement' }).selectOption({ label: COLLEGE.name });
      await root.getByRole('button', { name: 'Nommer' }).click();
      await announced(root, `claire.moreau administre maintenant ${COLLEGE.name}.`);
      await admins.getByRole('row', { name: /^MOREAU Claire claire\.moreau administrateur local/ }).waitFor();

      await consoleSignIn(claire, { login: 'claire.moreau', password: 'demo' });
      const hers = claire.getByRole('table', { name: 'Établissements que vous administrez' });
      await hers.getByRole('link', { name: COLLEGE.name }).waitFor();
      assert.equal(await hers.getByRole('link', { name: LYCEE.name }).count(), 0);
      assert.equal(await claire.getByRole('link', { name: 'Administrateurs' }).count(), 0);

      await root.getByRole('button', { name: `Retirer à claire.moreau l’administration de ${COLLEGE.name}` }).click();
      await root.getByRole('alertdialog').getByRole('button', { name: 'Oui' }).click();
      await announced(root, `claire.moreau n’administre plus ${COLLEGE.name}.`);
      await eventually(async () =>
        assert.equal(await admins.getByRole('row', { name: /claire\.moreau/ }).count(), 0),
      );
      // Her session's next request is refused: back to the login page.
      await claire.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Activité en direct' }).click();
      await claire.getByRole('alert').getByText("Ce compte n'est pas un compte d'administrateur du chat.").waitFor();
      await claire.getByRole('button', { name: 'Se connecter' }).waitFor();
      assert.deepEqual([...root.errors], []);
    }),
  );
});
