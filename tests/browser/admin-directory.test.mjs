// The admin console's directory screens against the real server: ENT groups
// (create, add members by searching the directory, what the group lets reach,
// rename, remove a member, delete; the chat sees the group's effect), users
// (search, card, « Déconnecter », « Verrouiller » / « Déverrouiller » seen
// from the chat client, « Qui peut-il joindre ? »), and directory names that
// look like HTML shown as text.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, launchBrowser, rightClick, signIn, startServer } from './harness.mjs';
import {
  COLLEGE,
  LOCAL_ADMIN,
  announced,
  consoleSignIn,
  extendSchool,
  openConsole,
  openSection,
} from './admin-helpers.mjs';

describe('admin console: groups and users', () => {
  let server;
  let browser;
  let admin;

  before(async () => {
    server = await startServer();
    extendSchool(server);
    browser = await launchBrowser();
    admin = await consoleSignIn(await openConsole(browser, server), LOCAL_ADMIN);
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

  /** Whether `page`'s « Ajouter contacts » search for `text` finds `name`. */
  async function chatSearchFinds(page, text, name) {
    await (await rightClick(page, 'Tous mes contacts')).getByRole('menuitem', { name: 'Ajouter contacts' }).click();
    const dialog = page.getByRole('dialog', { name: 'Ajouter contacts' });
    await dialog.getByRole('searchbox', { name: 'Rechercher' }).fill(text);
    let found = false;
    try {
      await dialog.getByRole('radio', { name: new RegExp(name) }).waitFor({ timeout: 2000 });
      found = true;
    } catch {
      await dialog.getByText('Personne ne correspond à cette recherche.').waitFor();
    }
    await dialog.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    return found;
  }

  it(
    'ENT groups: create, add members from the directory, what it lets reach, rename, remove, delete',
    onFailure(async () => {
      const hugo = await signIn(browser, server, 'hugo.bernard');
      assert.equal(await chatSearchFinds(hugo, 'Robert', 'ROBERT Noah'), false);

      await openSection(admin, COLLEGE.name, 'Groupes ENT');
      const groups = admin.getByRole('table', { name: 'Groupes de l’établissement' });
      await groups.getByRole('rowheader', { name: 'Chorale' }).waitFor();
      // An empty name is refused before asking.
      await admin.getByRole('button', { name: 'Créer le groupe' }).click();
      await admin.getByRole('alert').getByText('Donnez un nom au groupe.').waitFor();
      await admin.getByRole('textbox', { name: 'Nom du groupe' }).fill('Club théâtre');
      await admin.getByRole('button', { name: 'Créer le groupe' }).click();
      await announced(admin, 'Groupe « Club théâtre » créé.');
      await groups.getByRole('row', { name: /^Club théâtre 0/ }).waitFor();

      await admin.getByRole('link', { name: 'Gérer le groupe Club théâtre' }).click();
      await admin.getByRole('heading', { name: 'Groupe « Club théâtre »', level: 1 }).waitFor();
      await admin.getByText('Ce groupe n’a pas encore de membre.').waitFor();
      const search = admin.getByRole('searchbox', { name: 'Rechercher dans l’annuaire' });
      for (const [q, name] of [
        ['Bernard', 'BERNARD Hugo'],
        ['Robert', 'ROBERT Noah'],
      ]) {
        await search.fill(q);
        await admin.getByRole('button', { name: 'Rechercher', exact: true }).click();
        await admin.getByRole('button', { name: `Ajouter ${name} au groupe` }).click();
        await announced(admin, `${name} a été ajouté(e) au groupe.`);
      }
      const members = admin.getByRole('table', { name: 'Membres du groupe' });
      await members.getByRole('rowheader', { name: 'ROBERT Noah' }).waitFor();
      assert.equal(await members.getByRole('row').count(), 3);
      // Hugo (6e A) and Noah (6e B) reach each other only through the group.
      const reach = admin.getByRole('table', { name: 'Ce que le groupe ajoute aux règles' });
      await reach.waitFor();
      const pairs = (await reach.getByRole('row').allInnerTexts()).slice(1).join('\n');
      assert.match(pairs, /BERNARD Hugo/);
      assert.match(pairs, /ROBERT Noah/);
      assert.equal(await chatSearchFinds(hugo, 'Robert', 'ROBERT Noah'), true);

      await admin.getByRole('button', { name: 'Renommer' }).click();
      const rename = admin.getByRole('dialog', { name: 'Renommer le groupe' });
      // The server refuses a control character: its message shows in the dialog, on the field.
      await rename.getByRole('textbox', { name: 'Nouveau nom' }).fill('Atelier\u0007théâtre');
      await rename.getByRole('button', { name: 'Enregistrer' }).click();
      await rename.getByRole('alert').getByText('Caractères de contrôle interdits.').waitFor();
      assert.equal(await rename.getByRole('textbox', { name: 'Nouveau nom' }).getAttribute('aria-invalid'), 'true');
      await rename.getByRole('textbox', { name: 'Nouveau nom' }).fill('Atelier théâtre');
      await rename.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Groupe renommé en « Atelier théâtre ».');
      await admin.getByRole('heading', { name: 'Groupe « Atelier théâtre »', level: 1 }).waitFor();

      await admin.getByRole('button', { name: 'Retirer ROBERT Noah du groupe' }).click();
      await admin.getByRole('alertdialog').getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'ROBERT Noah a été retiré(e) du groupe.');
      await eventually(async () => assert.equal(await members.getByRole('row').count(), 2));
      await admin.getByText('Ce groupe ne relie personne que les règles ne relient déjà.').waitFor();
      assert.equal(await chatSearchFinds(hugo, 'Robert', 'ROBERT Noah'), false);

      await admin.getByRole('button', { name: 'Supprimer le groupe' }).click();
      const confirm = admin.getByRole('alertdialog', { name: 'Supprimer le groupe' });
      await confirm.getByText(/Supprimer le groupe « Atelier théâtre » \?/).waitFor();
      await confirm.getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'Groupe « Atelier théâtre » supprimé.');
      await groups.getByRole('rowheader', { name: 'Chorale' }).waitFor();
      assert.equal(await groups.getByRole('rowheader', { name: /théâtre/ }).count(), 0);
      assert.deepEqual([...hugo.errors, ...admin.errors], []);
      await hugo.context().close();
    }),
  );

  it(
    'users: the card, « Déconnecter », « Verrouiller » / « Déverrouiller » as the chat sees them, « Qui peut-il joindre ? »',
    onFailure(async () => {
      const hugo = await signIn(browser, server, 'hugo.bernard');
      await openSection(admin, COLLEGE.name, 'Utilisateurs');
      await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Bernard');
      await admin.getByRole('button', { name: 'Rechercher', exact: true }).click();
      await admin.getByRole('status').getByText('1 personne(s) trouvée(s).').waitFor();
      await admin.getByRole('table', { name: 'Résultats de la recherche' }).getByRole('link', { name: 'BERNARD Hugo' }).click();
      await admin.getByRole('heading', { name: 'BERNARD Hugo', level: 1 }).waitFor();
      const card = async () => {
        const dts = await admin.locator('dl.card dt').allInnerTexts();
        const dds = await admin.locator('dl.card dd').allInnerTexts();
        return Object.fromEntries(dts.map((k, i) => [k, dds[i]]));
      };
      const c = await card();
      assert.equal(c.Identifiant, 'hugo.bernard');
      assert.equal(c.Profil, 'Élève');
      assert.equal(c.Classes, '6e A');
      assert.equal(c['Accès au chat'], 'Autorisé');
      assert.equal(c.Compte, 'Actif');
      const sessions = admin.getByRole('table', { name: 'Appareils connectés' });
      await sessions.getByRole('cell', { name: 'navigateur (WebSocket)' }).waitFor();
      // « Logiciel »: what a SASL2 client named (XEP-0388); the web client names nothing.
      await sessions.getByRole('columnheader', { name: 'Logiciel' }).waitFor();

      // « Déconnecter »: the chat loses its connection (and comes back by itself).
      await admin.getByRole('button', { name: 'Déconnecter', exact: true }).click();
      await announced(admin, '1 session(s) fermée(s).');
      await hugo.getByText('Connexion rétablie.').waitFor();

      // « Verrouiller »: the chat is closed and cannot sign in again.
      await admin.getByRole('button', { name: 'Verrouiller' }).click();
      const confirm = admin.getByRole('alertdialog', { name: 'Verrouiller' });
      await confirm.getByRole('button', { name: 'Oui' }).click();
      await announced(admin, 'Le compte de BERNARD Hugo est verrouillé.');
      await eventually(async () => {
        const now = await card();
        assert.equal(now.Compte, 'Verrouillé');
        assert.equal(now['Accès au chat'], 'Refusé : son compte est verrouillé');
      });
      // The chat reconnects by itself, is refused, and says why on its login page.
      const refusal = hugo.getByRole('alert').getByText('Ton compte a été bloqué par un administrateur.');
      await refusal.waitFor({ timeout: 15_000 });
      await hugo.getByRole('textbox', { name: 'Identifiant' }).fill('hugo.bernard');
      await hugo.getByLabel('Mot de passe').fill('demo');
      await hugo.getByRole('button', { name: 'Se connecter' }).click();
      await refusal.waitFor();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await hugo.getByRole('tab', { name: 'Contacts' }).count(), 0);
      await refusal.waitFor();

      await admin.getByRole('button', { name: 'Déverrouiller' }).click();
      await announced(admin, 'Le compte de BERNARD Hugo est déverrouillé.');
      await eventually(async () => assert.equal((await card()).Compte, 'Actif'));
      await hugo.getByRole('textbox', { name: 'Identifiant' }).fill('hugo.bernard');
      await hugo.getByLabel('Mot de passe').fill('demo');
      await hugo.getByRole('button', { name: 'Se connecter' }).click();
      await hugo.getByRole('tab', { name: 'Contacts' }).waitFor();

      // « Qui peut-il joindre ? »: his class, the teachers and staff; not the 6e B.
      await admin.getByRole('button', { name: 'Qui peut-il joindre ?' }).click();
      const reach = admin.getByRole('table', { name: 'Personnes que BERNARD Hugo peut joindre' });
      await reach.waitFor();
      const names = await reach.getByRole('rowheader').allInnerTexts();
      for (const n of ['MARTIN Léa', 'DURAND Anne', 'LEROY Marc', 'MOREAU Claire']) assert.ok(names.includes(n), `${n} in ${names}`);
      for (const n of ['ROBERT Noah', 'PETIT Inès']) assert.ok(!names.includes(n), `${n} not in ${names}`);
      assert.equal(
        await reach.getByRole('row', { name: /^MARTIN Léa/ }).getByRole('cell').last().innerText(),
        'règle de communication',
      );
      assert.deepEqual(admin.errors, []);
      // The chat client's own errors: the forced disconnection is expected, nothing else.
      assert.deepEqual(hugo.errors, []);
      await hugo.context().close();
    }),
  );

  it(
    'names that look like HTML are shown as text, never as markup',
    onFailure(async () => {
      await openSection(admin, COLLEGE.name, 'Utilisateurs');
      await admin.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('jules');
      await admin.getByRole('button', { name: 'Rechercher', exact: true }).click();
      const link = admin
        .getByRole('table', { name: 'Résultats de la recherche' })
        .getByRole('link', { name: /onerror/i });
      await link.waitFor();
      const text = await link.innerText();
      // « NOM Prénom »: whatever the capitals, the brackets are there as text.
      assert.match(text, /<img src=x onerror=alert\(1\)>/i);
      assert.match(text, /<b>Jules<\/b>/);
      await link.click();
      await admin.getByRole('heading', { level: 1, name: text }).waitFor();
      assert.equal(await admin.locator('main img, main b').count(), 0);
      // A group named like markup, too.
      await openSection(admin, COLLEGE.name, 'Groupes ENT');
      await admin.getByRole('textbox', { name: 'Nom du groupe' }).fill('<script>alert(1)</script><i>Club</i>');
      await admin.getByRole('button', { name: 'Créer le groupe' }).click();
      await admin
        .getByRole('table', { name: 'Groupes de l’établissement' })
        .getByRole('rowheader', { name: '<script>alert(1)</script><i>Club</i>' })
        .waitFor();
      await admin.getByRole('link', { name: 'Gérer le groupe <script>alert(1)</script><i>Club</i>' }).click();
      await admin.getByRole('searchbox', { name: 'Rechercher dans l’annuaire' }).fill('jules');
      await admin.getByRole('button', { name: 'Rechercher', exact: true }).click();
      await admin.getByRole('button', { name: `Ajouter ${text} au groupe` }).click();
      await admin.getByRole('table', { name: 'Membres du groupe' }).getByRole('rowheader', { name: text }).waitFor();
      assert.equal(await admin.locator('main img, main b, main i, main script').count(), 0);
      assert.deepEqual(admin.errors, []);
    }),
  );

  it(
    "in English: the console's labels and the server's messages in English",
    onFailure(async () => {
      const en = await openConsole(browser, server, { locale: 'en-GB' });
      await en.getByRole('textbox', { name: 'Login' }).fill(LOCAL_ADMIN.login);
      await en.getByLabel('Password').fill(LOCAL_ADMIN.password);
      await en.getByRole('button', { name: 'Sign in' }).click();
      await en.getByRole('heading', { name: 'Schools', level: 1 }).waitFor();
      await en.getByRole('table', { name: 'Schools you administer' }).getByRole('link', { name: COLLEGE.name }).click();
      await en.getByRole('navigation', { name: 'School sections' }).getByRole('link', { name: 'ENT groups' }).click();
      await en.getByRole('textbox', { name: 'Group name' }).fill('Club\u0007');
      await en.getByRole('button', { name: 'Create the group' }).click();
      await en.getByRole('alert').getByText('Control characters are not allowed.').waitFor();
      assert.equal(await en.getByRole('textbox', { name: 'Group name' }).getAttribute('aria-invalid'), 'true');
      assert.deepEqual(en.errors, []);
    }),
  );
});
