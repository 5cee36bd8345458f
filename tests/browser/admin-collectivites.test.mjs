// « Disponible selon collectivité » in the admin console (issue 18): the
// super-administrator names a collectivité administrator; he sees the schools
// of his collectivité and turns a school's chat off (its pupil, connected, is
// closed), and sees none of its users (no « Utilisateurs », no live view, no
// audit; the API answers 403); he turns the collectivité off, and the school's
// own administrator, turning the school back on, cannot widen it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, launchBrowser, signIn, startServer, watch } from './harness.mjs';
import {
  COLLEGE,
  LOCAL_ADMIN,
  LYCEE,
  SUPER_ADMIN,
  announced,
  checkA11y,
  cli,
  consoleSignIn,
  extendSchool,
  openConsole,
  openSection,
} from './admin-helpers.mjs';

const ELU = { login: 'elu.departement', password: 'demo-elu-secret' };
const DEPARTEMENT = { id: 'dep-75', name: 'Département de Paris' };

describe('admin console: collectivités', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    extendSchool(server, (school) => {
      school.collectivites = [
        { id: DEPARTEMENT.id, name: DEPARTEMENT.name, kind: 'departement', structures: [COLLEGE.id] },
        { id: 'reg-idf', name: 'Région Île-de-France', kind: 'region', structures: [LYCEE.id] },
      ];
    });
    cli(server, 'user', 'add', `${ELU.login}@localhost`, '--password', ELU.password);
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

  /** The chat's login page answers `login` with `text` (a refusal) or the contacts. */
  async function chatLogin(login) {
    const context = await browser.newContext({ locale: 'fr-FR' });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    await page.goto(server.url);
    await page.getByRole('textbox', { name: 'Identifiant' }).fill(login);
    await page.getByLabel('Mot de passe').fill('demo');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    return page;
  }

  it(
    'a collectivité administrator turns a school off, sees none of its users, and the school cannot widen his collectivité',
    onFailure(async () => {
      // The super-administrator names him.
      const root = await consoleSignIn(await openConsole(browser, server), SUPER_ADMIN);
      await root.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Collectivités' }).click();
      await root.getByRole('table', { name: 'Collectivités que vous administrez' }).getByRole('link', { name: DEPARTEMENT.name }).click();
      await root.getByRole('textbox', { name: 'Identifiant du compte' }).fill(ELU.login);
      await root.getByRole('button', { name: 'Nommer' }).click();
      await announced(root, `${ELU.login} administre la collectivité.`);
      await root.getByRole('button', { name: `Retirer ${ELU.login}` }).waitFor();

      // A pupil of the collège is in the chat.
      const hugo = await signIn(browser, server, 'hugo.bernard');

      const elu = await consoleSignIn(await openConsole(browser, server, { axe: true }), ELU);
      await elu.getByText('(administrateur de collectivité)').waitFor();
      const menu = elu.getByRole('navigation', { name: 'Menu de la console' });
      await menu.getByRole('link', { name: 'Collectivités' }).waitFor();
      assert.deepEqual(await menu.getByRole('link').allInnerTexts(), ['Établissements', 'Collectivités']);
      const table = elu.getByRole('table', { name: 'Établissements que vous administrez' });
      await table.getByRole('link', { name: COLLEGE.name }).click();
      // The school's menu is its access only.
      const sub = elu.getByRole('navigation', { name: 'Rubriques de l’établissement' });
      // (allInnerTexts does not wait: the menu is there first.)
      await sub.getByRole('link', { name: 'Accès au service Chat' }).waitFor();
      assert.deepEqual(await sub.getByRole('link').allInnerTexts(), ['Accès au service Chat']);
      await elu.getByRole('heading', { name: 'Accès au service Chat', level: 1 }).waitFor();
      await elu.getByText('vous ne voyez pas ses utilisateurs').waitFor();
      await checkA11y(elu, 'a school seen by its collectivité');
      await elu.getByRole('switch', { name: 'Service Chat activé pour cet établissement' }).uncheck();
      await elu.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(elu, 'Accès au service Chat enregistré.');
      // The pupil, connected, is closed, with « tu ».
      await hugo.getByRole('alert').getByText("Le chat n'est pas activé dans ton établissement.").waitFor({ timeout: 15_000 });

      // None of its users: asked for by address, the console shows the access screen only …
      await elu.goto(`${server.url}/admin#/s/${COLLEGE.id}/users`);
      await elu.getByRole('heading', { name: 'Accès au service Chat', level: 1 }).waitFor();
      assert.equal(await elu.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).count(), 0);
      // … and the API refuses.
      const statuses = await elu.evaluate(async (college) => {
        const get = async (path) => (await fetch(`/admin/api${path}`)).status;
        return [
          await get('/users?q=martin'),
          await get(`/users?structure=${college}`),
          await get('/users/lea.martin'),
          await get('/live'),
          await get('/audit'),
          await get(`/structures/${college}/reports`),
          await get(`/structures/${college}/groups`),
        ];
      }, COLLEGE.id);
      assert.deepEqual(statuses, [403, 403, 404, 403, 403, 403, 403]);

      // He turns the collectivité off.
      await menu.getByRole('link', { name: 'Collectivités' }).click();
      await elu.getByRole('link', { name: DEPARTEMENT.name }).click();
      await elu.getByRole('heading', { name: `${DEPARTEMENT.name} (Département)`, level: 1 }).waitFor();
      assert.equal(await elu.getByRole('heading', { name: 'Administrateurs de la collectivité' }).count(), 0);
      await checkA11y(elu, 'a collectivité');
      await elu.getByRole('switch', { name: 'Service Chat activé pour les établissements de la collectivité' }).uncheck();
      await elu.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(elu, 'Accès au service Chat de la collectivité enregistré.');

      // The school's own administrator turns it back on: what is in force stays off.
      const admin = await consoleSignIn(await openConsole(browser, server), LOCAL_ADMIN);
      await openSection(admin, COLLEGE.name, 'Accès au service Chat');
      await admin.getByRole('switch', { name: 'Service Chat activé pour cet établissement' }).check();
      await admin.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(admin, 'Accès au service Chat enregistré.');
      await admin.getByText('Le service Chat est désactivé pour cet établissement.').waitFor();
      await admin.getByText(`${DEPARTEMENT.name} (Département) : désactivé`).waitFor();
      const refused = await chatLogin('hugo.bernard');
      await refused
        .getByRole('alert')
        .getByText("Le chat n'est pas activé pour ton établissement par sa collectivité (région, département ou commune).")
        .waitFor();
      // The lycée, under another collectivité, is untouched.
      const tom = await chatLogin('tom.lycee');
      await tom.getByRole('tab', { name: 'Contacts' }).waitFor();

      // The collectivité back on: the pupil signs in again.
      await elu.getByRole('switch', { name: 'Service Chat activé pour les établissements de la collectivité' }).check();
      await elu.getByRole('button', { name: 'Enregistrer' }).click();
      await announced(elu, 'Accès au service Chat de la collectivité enregistré.');
      const again = await chatLogin('hugo.bernard');
      await again.getByRole('tab', { name: 'Contacts' }).waitFor();
      assert.deepEqual([...root.errors, ...elu.errors, ...admin.errors, ...again.errors], []);
    }),
  );
});
