// axe-core's WCAG 2.1 A/AA rules on the admin console's screens (login with
// an error, structure picker, access, rules with the rule dialog and the
// reset confirmation, groups and a group, users and a card with « Qui
// peut-il joindre ? », live view, audit log, administrators), the keyboard
// path through the main menu, and the screenshots of the main screens
// (docs/screenshots with UPDATE_SCREENSHOTS=1).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, shot, signIn, startServer } from './harness.mjs';
import {
  COLLEGE,
  LOCAL_ADMIN,
  SUPER_ADMIN,
  checkA11y,
  consoleSignIn,
  extendSchool,
  openConsole,
  openSection,
} from './admin-helpers.mjs';

describe('admin console: accessibility and screenshots', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    extendSchool(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('has no WCAG 2.1 A/AA violations on the console screens', async () => {
    // Someone online, for the live view and the card's sessions.
    const lea = await signIn(browser, server, 'lea.martin');
    const page = await openConsole(browser, server, { axe: true });
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('alert').getByText('Saisissez votre identifiant et votre mot de passe.').waitFor();
    await checkA11y(page, 'login with an error');
    await shot(page, 'admin-login');
    await consoleSignIn(page, LOCAL_ADMIN);
    await checkA11y(page, 'structure picker');

    await openSection(page, COLLEGE.name, 'Accès au service Chat');
    await page.getByRole('checkbox', { name: 'Invité' }).waitFor();
    await checkA11y(page, 'access');
    await shot(page, 'admin-access');

    await openSection(page, COLLEGE.name, 'Règles de communication');
    await page.getByRole('table', { name: 'Qui peut joindre qui' }).waitFor();
    await checkA11y(page, 'rules');
    await shot(page, 'admin-rules');
    await page.getByRole('button', { name: 'Modifier la règle 2' }).click();
    const dialog = page.getByRole('dialog', { name: 'Modifier la règle 2' });
    await dialog.getByRole('group', { name: 'Qui (profils)' }).getByRole('checkbox', { name: 'Élève' }).uncheck();
    await dialog.getByRole('button', { name: 'Enregistrer' }).click();
    await dialog.getByRole('alert').getByText('Choisissez au moins un profil.').waitFor();
    await checkA11y(page, 'rule dialog with an error');
    await dialog.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Rétablir les règles par défaut' }).click();
    await page.getByRole('alertdialog').waitFor();
    await checkA11y(page, 'reset confirmation');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Non' }).click();

    await openSection(page, COLLEGE.name, 'Groupes ENT');
    await page.getByRole('rowheader', { name: 'Chorale' }).waitFor();
    await checkA11y(page, 'groups');
    await page.getByRole('link', { name: 'Gérer le groupe Chorale' }).click();
    await page.getByRole('searchbox', { name: 'Rechercher dans l’annuaire' }).fill('Bernard');
    await page.getByRole('button', { name: 'Rechercher', exact: true }).click();
    await page.getByRole('button', { name: 'Ajouter BERNARD Hugo au groupe' }).click();
    await page.getByRole('table', { name: 'Membres du groupe' }).getByRole('rowheader', { name: 'BERNARD Hugo' }).waitFor();
    await checkA11y(page, 'a group');
    await shot(page, 'admin-group');

    await openSection(page, COLLEGE.name, 'Utilisateurs');
    await page.getByRole('searchbox', { name: 'Rechercher un utilisateur' }).fill('Martin');
    await page.getByRole('button', { name: 'Rechercher', exact: true }).click();
    await page.getByRole('link', { name: 'MARTIN Léa' }).waitFor();
    await checkA11y(page, 'user search');
    await page.getByRole('link', { name: 'MARTIN Léa' }).click();
    await page.getByRole('table', { name: 'Appareils connectés' }).waitFor();
    await page.getByRole('button', { name: 'Qui peut-il joindre ?' }).click();
    await page.getByRole('table', { name: 'Personnes que MARTIN Léa peut joindre' }).waitFor();
    await checkA11y(page, 'user card with whom she may reach');
    await shot(page, 'admin-user');

    await page.getByRole('link', { name: 'Activité en direct' }).click();
    await page.getByRole('heading', { name: 'Dernier import de l’annuaire' }).waitFor();
    // Léa is online; the import of the test's school went well; whole-server figures are not a local administrator's.
    const figure = (name) => page.locator('dl.figures div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd');
    assert.equal(await figure('Utilisateurs connectés').innerText(), '1');
    assert.equal(await figure('Conversations ouvertes').count(), 0);
    await page.getByText('réussi', { exact: true }).waitFor();
    await page.getByRole('table', { name: 'Nombres importés' }).getByRole('rowheader', { name: 'Utilisateurs créés' }).waitFor();
    await checkA11y(page, 'live view');
    await shot(page, 'admin-live');

    await page.getByRole('link', { name: "Journal d'audit" }).click();
    await page.getByRole('table', { name: 'Modifications, de la plus récente à la plus ancienne' }).waitFor();
    await checkA11y(page, 'audit log');
    await shot(page, 'admin-audit');

    // The super-administrator's list of administrators.
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await consoleSignIn(page, SUPER_ADMIN);
    await page.getByRole('link', { name: 'Administrateurs' }).click();
    await page.getByRole('table', { name: 'Administrateurs du chat' }).waitFor();
    await checkA11y(page, 'administrators');
    await shot(page, 'admin-admins');
    // The super-administrator's live view has the whole server's figures and the last hour's chart.
    await page.getByRole('link', { name: 'Activité en direct' }).click();
    await page.getByRole('img', { name: 'Messages par minute, sur la dernière heure' }).waitFor();
    assert.equal(await figure('Conversations ouvertes').count(), 1);
    await checkA11y(page, "super-administrator's live view");
    assert.deepEqual([...page.errors, ...lea.errors], []);
  });

  it('works with the keyboard: the main menu, a structure, its sections, a confirmation', async () => {
    const page = await openConsole(browser, server);
    // The login field has the focus when the page opens.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-id');
    await page.keyboard.type(LOCAL_ADMIN.login);
    await page.keyboard.press('Tab');
    await page.keyboard.type(LOCAL_ADMIN.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Établissements', level: 1 }).waitFor();
    // Each screen's heading takes the focus, for screen readers.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Établissements');
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim());
    // Tab until the structure's link, then Enter.
    for (let i = 0; i < 20 && (await focused()) !== COLLEGE.name; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), COLLEGE.name);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Accès au service Chat', level: 1 }).waitFor();
    for (let i = 0; i < 40 && (await focused()) !== 'Règles de communication'; i++) await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Règles de communication', level: 1 }).waitFor();
    // Each screen names the page.
    // (The title follows the screen once it has rendered: wait for it.)
    const title = "Règles de communication — Console d'administration du chat";
    await page.waitForFunction((t) => document.title === t, title, { timeout: 5000 }).catch(() => {});
    assert.equal(await page.title(), title);
    for (let i = 0; i < 60 && (await focused()) !== 'Rétablir les règles par défaut'; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('alertdialog', { name: 'Rétablir les règles par défaut' });
    await confirm.waitFor();
    assert.equal(await focused(), 'Non');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    // Focus goes back to the button that opened it, with a visible ring.
    assert.equal(await focused(), 'Rétablir les règles par défaut');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid');
    assert.deepEqual(page.errors, []);
  });
});
