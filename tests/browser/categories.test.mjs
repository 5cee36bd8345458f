// Categories kept on the server: MARTIN Léa's categories, empty ones
// included, are on another device too (private storage, XEP-0049); BERNARD
// Hugo, accepted from « Autres contacts », is put into a category from his
// menu, dragged to another one, moved back with the keyboard only
// (Shift+F10, « Déplacer vers une autre catégorie », arrows, Tab, Enter); a
// category is renamed (a name already taken is refused in French). Each
// change is seen in a fresh browser context. axe-core on the new dialogs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, categoryOf, checkA11y, launchBrowser, rightClick, signIn, startServer, treeItem } from './harness.mjs';

describe('categories on the server', () => {
  let server;
  let browser;
  let lea;
  let hugo;
  const pages = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of pages) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
    await browser?.close();
    await server?.stop();
  });

  const open = async (login, opts) => {
    const page = await signIn(browser, server, login, opts);
    pages.push(page);
    return page;
  };
  /** The tree's categories (level 2 rows), as shown. */
  const categories = (page) =>
    page
      .getByRole('tree')
      .locator('[role="treeitem"][aria-level="2"] .label')
      .allTextContents();
  /** Where a fresh device (another browser context) sees things. */
  const freshView = async () => {
    const other = await open('lea.martin');
    await treeItem(other, 'BERNARD Hugo').waitFor();
    const seen = { categories: await categories(other), hugo: await categoryOf(treeItem(other, 'BERNARD Hugo')) };
    await other.context().close();
    return seen;
  };
  const until = async (fn, expected) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = await fn();
      try {
        assert.deepEqual(got, expected);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const create = async (name) => {
    await (await rightClick(lea, 'Tous mes contacts')).getByRole('menuitem', { name: 'Créer une catégorie' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Créer une catégorie' });
    await dialog.getByRole('textbox', { name: 'Nom de la catégorie' }).fill(name);
    await dialog.getByRole('button', { name: 'OK' }).click();
    await dialog.waitFor({ state: 'detached' });
  };

  it('empty categories are on another device too', async () => {
    lea = await open('lea.martin', { axe: true });
    hugo = await open('hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Hugo' });
    await create('Classe');
    await create('Sortie');
    assert.deepEqual(await categories(lea), ['Classe (0)', 'Sortie (0)', 'Autres contacts (1)']);
    assert.deepEqual(await lea.evaluate(() => Object.keys(localStorage)), [], 'nothing kept in the browser');
    assert.deepEqual(await freshView(), {
      categories: ['Classe (0)', 'Sortie (0)', 'Autres contacts (1)'],
      hugo: 'Autres contacts (1)',
    });
  });

  it('a contact of « Autres contacts » put into a category from his menu', async () => {
    await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Mettre dans une catégorie' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Déplacer BERNARD Hugo' });
    await dialog.getByText('BERNARD Hugo est dans « Autres contacts ».').waitFor();
    // Nothing chosen: said in French.
    await dialog.getByRole('button', { name: 'Déplacer' }).click();
    await dialog.getByRole('alert').getByText("Choisis d'abord une catégorie.").waitFor();
    await checkA11y(lea, 'the « Déplacer » dialog');
    await dialog.getByRole('radio', { name: 'Classe' }).check();
    await dialog.getByRole('button', { name: 'Déplacer' }).click();
    await dialog.waitFor({ state: 'detached' });
    await lea.getByRole('status').getByText('BERNARD Hugo est maintenant dans « Classe ».').waitFor();
    await until(() => categoryOf(treeItem(lea, 'BERNARD Hugo')), 'Classe (1)');
    assert.deepEqual(await categories(lea), ['Classe (1)', 'Sortie (0)']);
    assert.deepEqual(await freshView(), { categories: ['Classe (1)', 'Sortie (0)'], hugo: 'Classe (1)' });
  });

  it('dragged onto another category; the one left stays, empty', async () => {
    await treeItem(lea, 'BERNARD Hugo').dragTo(treeItem(lea, 'Sortie (0)'));
    await until(() => categoryOf(treeItem(lea, 'BERNARD Hugo')), 'Sortie (1)');
    assert.deepEqual(await categories(lea), ['Classe (0)', 'Sortie (1)']);
    assert.deepEqual(await freshView(), { categories: ['Classe (0)', 'Sortie (1)'], hugo: 'Sortie (1)' });
  });

  it('moved with the keyboard only', async () => {
    await treeItem(lea, 'BERNARD Hugo').focus();
    await lea.keyboard.press('Shift+F10');
    const menu = lea.getByRole('menu');
    await menu.waitFor();
    // The first enabled item has focus; go down to « Déplacer vers une autre catégorie ».
    for (let i = 0; i < 5; i++) {
      const focused = await lea.evaluate(() => document.activeElement?.textContent);
      if (focused === 'Déplacer vers une autre catégorie') break;
      await lea.keyboard.press('ArrowDown');
    }
    await lea.keyboard.press('Enter');
    const dialog = lea.getByRole('dialog', { name: 'Déplacer BERNARD Hugo' });
    await dialog.getByText('BERNARD Hugo est dans la catégorie « Sortie ».').waitFor();
    // Focus on the first choice (« Classe »), which an arrow key or Space chooses.
    assert.equal(await lea.evaluate(() => document.activeElement?.getAttribute('type')), 'radio');
    await lea.keyboard.press('Space');
    assert.equal(await dialog.getByRole('radio', { name: 'Classe' }).isChecked(), true);
    await lea.keyboard.press('Tab');
    await lea.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await until(() => categoryOf(treeItem(lea, 'BERNARD Hugo')), 'Classe (1)');
    // Focus follows the contact to his new place.
    await until(() => lea.evaluate(() => document.activeElement?.querySelector('.label')?.textContent), 'BERNARD Hugo');
    assert.deepEqual(await freshView(), { categories: ['Classe (1)', 'Sortie (0)'], hugo: 'Classe (1)' });
  });

  it('a category renamed, with its contacts; a name already taken is refused', async () => {
    await (await rightClick(lea, 'Classe (1)')).getByRole('menuitem', { name: 'Renommer la catégorie' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Renommer la catégorie « Classe »' });
    const field = dialog.getByRole('textbox', { name: 'Nouveau nom de la catégorie' });
    assert.equal(await field.inputValue(), 'Classe');
    await field.fill('sortie');
    await dialog.getByRole('button', { name: 'OK' }).click();
    await dialog.getByRole('alert').getByText('La catégorie « sortie » existe déjà.').waitFor();
    await checkA11y(lea, 'the « Renommer la catégorie » dialog with an error');
    await field.fill('Classe de 6e A');
    await dialog.getByRole('button', { name: 'OK' }).click();
    await dialog.waitFor({ state: 'detached' });
    await until(() => categoryOf(treeItem(lea, 'BERNARD Hugo')), 'Classe de 6e A (1)');
    assert.deepEqual(await categories(lea), ['Classe de 6e A (1)', 'Sortie (0)']);
    // An empty one too.
    await (await rightClick(lea, 'Sortie (0)')).getByRole('menuitem', { name: 'Renommer la catégorie' }).click();
    const again = lea.getByRole('dialog', { name: 'Renommer la catégorie « Sortie »' });
    await again.getByRole('textbox', { name: 'Nouveau nom de la catégorie' }).fill('Sortie au musée');
    await again.getByRole('button', { name: 'OK' }).click();
    await again.waitFor({ state: 'detached' });
    assert.deepEqual(await categories(lea), ['Classe de 6e A (1)', 'Sortie au musée (0)']);
    // Nothing said about a category « disappearing »: it was renamed.
    assert.equal(await lea.getByText(/ne contient plus de contacts/).count(), 0);
    assert.deepEqual(await freshView(), {
      categories: ['Classe de 6e A (1)', 'Sortie au musée (0)'],
      hugo: 'Classe de 6e A (1)',
    });
  });
});
