// The seed manual (../shared/seed), section by section, played in the web
// client by pupils of the demo school, each in a browser context of their
// own: MARTIN Léa and BERNARD Hugo (6e A), PETIT Inès (6e B, in the
// « Chorale » group with Léa), ROBERT Noah (6e B, whom Léa may not reach).
//
// The tests of this file are one story and run in order on one server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  COLOURS,
  categoryOf,
  eventually,
  launchBrowser,
  light,
  rightClick,
  shot,
  signIn,
  startServer,
  treeItem,
} from './harness.mjs';

describe('the seed manual, in the web client', () => {
  let server;
  let browser;
  let lea;
  let hugo;
  let ines;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of [lea, hugo, ines]) {
      if (page) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
    }
    await browser?.close();
    await server?.stop();
  });

  const onFailure = (fn) => async () => {
    try {
      await fn();
    } catch (e) {
      console.error(`--- server log ---\n${server?.logTail()}`);
      throw e;
    }
  };

  it(
    'Comment se repérer: header with « NOM Prénom » and state, tabs « Contacts » / « Mes demandes »',
    onFailure(async () => {
      lea = await signIn(browser, server, 'lea.martin');
      const banner = lea.getByRole('banner');
      await banner.getByText('MARTIN Léa').waitFor();
      await banner.getByRole('button', { name: 'État : Disponible' }).waitFor();
      const tabs = lea.getByRole('tablist').first();
      assert.equal(await tabs.getByRole('tab', { name: 'Contacts' }).getAttribute('aria-selected'), 'true');
      assert.equal(await tabs.getByRole('tab', { name: 'Mes demandes' }).getAttribute('aria-selected'), 'false');
      await treeItem(lea, 'Tous mes contacts').waitFor();
      // The state menu, by the keyboard: « Disponible », « Absent », « Ne pas déranger ».
      await banner.getByRole('button', { name: 'État : Disponible' }).focus();
      await lea.keyboard.press('Enter');
      const menu = lea.getByRole('menu', { name: 'Changer mon état' });
      const items = await menu.getByRole('menuitemradio').allTextContents();
      assert.deepEqual(
        items.map((s) => s.replace('✓', '').trim()),
        ['Disponible', 'Absent', 'Ne pas déranger'],
      );
      await lea.keyboard.press('Escape');
      await menu.waitFor({ state: 'detached' });
      assert.equal(
        await lea.evaluate(() => document.activeElement?.getAttribute('aria-haspopup')),
        'menu',
        'Escape gives focus back to the state button',
      );
    }),
  );

  it(
    'Créer une catégorie: right-click « Tous mes contacts », name, « OK »; shown with its count',
    onFailure(async () => {
      const menu = await rightClick(lea, 'Tous mes contacts');
      await shot(lea, 'context-menu');
      await menu.getByRole('menuitem', { name: 'Créer une catégorie' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Créer une catégorie' });
      await dialog.getByRole('textbox', { name: 'Nom de la catégorie' }).fill('Ma classe');
      await dialog.getByRole('button', { name: 'OK' }).click();
      await dialog.waitFor({ state: 'detached' });
      await treeItem(lea, 'Ma classe (0)').waitFor();

      // The second one by the keyboard only: Shift+F10 on the root, arrows, Enter.
      await treeItem(lea, 'Tous mes contacts').focus();
      await lea.keyboard.press('Shift+F10');
      await lea.getByRole('menu', { name: 'Actions : Tous mes contacts' }).waitFor();
      assert.equal(
        await lea.evaluate(() => document.activeElement?.textContent),
        'Créer une catégorie',
        'the menu opens with focus on its first item',
      );
      await lea.keyboard.press('Enter');
      const name = lea.getByRole('dialog', { name: 'Créer une catégorie' }).getByRole('textbox', { name: 'Nom de la catégorie' });
      await eventually(async () => assert.equal(await name.evaluate((el) => el === document.activeElement), true));
      await lea.keyboard.type('Chorale');
      await lea.keyboard.press('Enter');
      await treeItem(lea, 'Chorale (0)').waitFor();
      // A name that exists already is refused, in French.
      await (await rightClick(lea, 'Chorale (0)')).getByRole('menuitem', { name: 'Créer une catégorie' }).click();
      const again = lea.getByRole('dialog', { name: 'Créer une catégorie' });
      await again.getByRole('textbox', { name: 'Nom de la catégorie' }).fill('chorale');
      await again.getByRole('button', { name: 'OK' }).click();
      await again.getByRole('alert').getByText('La catégorie « chorale » existe déjà.').waitFor();
      await again.getByRole('button', { name: 'Annuler' }).click();
      await again.waitFor({ state: 'detached' });
    }),
  );

  it(
    'Ajouter un nouveau contact: search the directory, only classmates and groups; « Invitation en attente »',
    onFailure(async () => {
      // The context-menu key opens the menu of the focused category. The dialog closed just
      // before gives the focus back to the tree on its next tick: focus the category once
      // that has happened (else the menu opened is the one the focus went back to).
      const classe = treeItem(lea, 'Ma classe (0)');
      await eventually(async () => {
        await classe.focus();
        await lea.waitForTimeout(50);
        assert.equal(await classe.evaluate((el) => el === document.activeElement), true);
      });
      await lea.keyboard.press('ContextMenu');
      const menu = lea.getByRole('menu', { name: 'Actions : Ma classe (0)' });
      await menu.getByRole('menuitem', { name: 'Ajouter contacts' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Ajouter contacts' });
      const search = dialog.getByRole('searchbox', { name: 'Rechercher' });

      // ROBERT Noah is in 6e B: the rules keep him out of Léa's results.
      await search.fill('Noah');
      await dialog.getByRole('button', { name: 'Rechercher' }).click();
      await dialog.getByRole('status').getByText('Personne ne correspond à cette recherche.').waitFor();
      await search.fill('Robert');
      await dialog.getByRole('button', { name: 'Rechercher' }).click();
      await dialog.getByRole('status').getByText('Personne ne correspond à cette recherche.').waitFor();

      // Her classmate comes with his profile and class.
      await search.fill('hugo');
      await dialog.getByRole('button', { name: 'Rechercher' }).click();
      const hugoRadio = dialog.getByRole('radio', { name: /BERNARD Hugo/ });
      await hugoRadio.waitFor();
      assert.match(await dialog.getByText('BERNARD Hugo').locator('..').textContent(), /Élève, 6e A/);
      assert.equal(await dialog.getByRole('radio').count(), 1);
      await dialog.getByText('Le contact sera ajouté à la catégorie « Ma classe ».').waitFor();

      // Everyone Léa may reach, for the screenshot; Noah is not there.
      await search.fill('');
      await dialog.getByRole('button', { name: 'Rechercher' }).click();
      await dialog.getByRole('radio', { name: /PETIT Inès/ }).waitFor();
      assert.equal(await dialog.getByRole('radio', { name: /ROBERT Noah/ }).count(), 0);
      await dialog.getByRole('radio', { name: /BERNARD Hugo/ }).check();
      await shot(lea, 'add-contacts');
      await dialog.getByRole('button', { name: 'Ajouter le contact' }).click();
      await dialog.waitFor({ state: 'detached' });

      const item = treeItem(lea, 'BERNARD Hugo');
      await treeItem(lea, 'Ma classe (1)').waitFor();
      await item.getByText('Invitation en attente').waitFor();
      assert.equal(await categoryOf(item), 'Ma classe (1)');
      assert.deepEqual(await light(item), { state: 'offline', colour: COLOURS.offline });
    }),
  );

  it(
    'Accepter une demande: « Mes demandes » → « Accepter »; both see each other with a green light',
    onFailure(async () => {
      hugo = await signIn(browser, server, 'hugo.bernard');
      await hugo.getByRole('banner').getByText('BERNARD Hugo').waitFor();
      const tab = hugo.getByRole('tab', { name: 'Mes demandes (1)' });
      await tab.click();
      assert.equal(await tab.getAttribute('aria-selected'), 'true');
      const request = hugo.getByRole('tabpanel', { name: 'Mes demandes (1)' }).getByRole('listitem').filter({ hasText: 'MARTIN Léa' });
      await request.getByText('Demande de contact').waitFor();
      await shot(hugo, 'requests');
      await request.getByRole('button', { name: 'Accepter' }).click();
      await hugo.getByRole('tab', { name: 'Mes demandes' }).waitFor();
      await hugo.getByText("Tu n'as aucune demande en attente.").waitFor();

      // Hugo sees Léa under « Autres contacts », green; Léa sees Hugo green.
      await hugo.getByRole('tab', { name: 'Contacts' }).click();
      await treeItem(hugo, 'Autres contacts (1)').waitFor();
      assert.equal(await categoryOf(treeItem(hugo, 'MARTIN Léa')), 'Autres contacts (1)');
      await eventually(async () =>
        assert.deepEqual(await light(treeItem(hugo, 'MARTIN Léa')), {
          state: 'available',
          colour: COLOURS.available,
        }),
      );
      const item = treeItem(lea, 'BERNARD Hugo');
      await eventually(async () =>
        assert.deepEqual(await light(item), { state: 'available', colour: COLOURS.available }),
      );
      assert.equal(await item.getByText('Invitation en attente').count(), 0);
    }),
  );

  it(
    'States: « Absent » is orange and « Ne pas déranger » red for the contacts; « Commencer conversation » needs « Disponible »',
    onFailure(async () => {
      const item = treeItem(lea, 'BERNARD Hugo');
      const choose = async (state) => {
        await hugo.getByRole('banner').getByRole('button', { name: /^État : / }).click();
        await hugo.getByRole('menu', { name: 'Changer mon état' }).getByRole('menuitemradio', { name: state }).click();
        await hugo.getByRole('banner').getByRole('button', { name: `État : ${state}` }).waitFor();
      };
      await choose('Absent');
      await eventually(async () => assert.deepEqual(await light(item), { state: 'away', colour: COLOURS.away }));
      const menu = await rightClick(lea, 'BERNARD Hugo');
      assert.equal(
        await menu.getByRole('menuitem', { name: 'Commencer conversation' }).getAttribute('aria-disabled'),
        'true',
      );
      await lea.keyboard.press('Escape');
      await choose('Ne pas déranger');
      await eventually(async () => assert.deepEqual(await light(item), { state: 'dnd', colour: COLOURS.dnd }));
      await choose('Disponible');
      await eventually(async () =>
        assert.deepEqual(await light(item), { state: 'available', colour: COLOURS.available }),
      );
    }),
  );

  it(
    'Refuser une demande: the request leaves « Mes demandes »; the requester reads « Invitation refusée »',
    onFailure(async () => {
      // Léa adds Inès (6e B, but both are in the « Chorale » group) to « Chorale ».
      const menu = await rightClick(lea, 'Chorale (0)');
      await menu.getByRole('menuitem', { name: 'Ajouter contacts' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Ajouter contacts' });
      await dialog.getByRole('searchbox', { name: 'Rechercher' }).fill('Inès');
      await dialog.getByRole('radio', { name: /PETIT Inès/ }).check();
      await dialog.getByRole('button', { name: 'Ajouter le contact' }).click();
      await dialog.waitFor({ state: 'detached' });
      await treeItem(lea, 'PETIT Inès').getByText('Invitation en attente').waitFor();
      await shot(lea, 'contacts');

      ines = await signIn(browser, server, 'ines.petit');
      await ines.getByRole('tab', { name: 'Mes demandes (1)' }).click();
      const request = ines.getByRole('listitem').filter({ hasText: 'MARTIN Léa' });
      await request.getByRole('button', { name: 'Refuser' }).click();
      await request.waitFor({ state: 'detached' });
      await ines.getByRole('tab', { name: 'Mes demandes', exact: true }).waitFor();

      const item = treeItem(lea, 'PETIT Inès');
      await item.getByText('Invitation refusée').waitFor();
      assert.deepEqual(await light(item), { state: 'offline', colour: COLOURS.offline });
      await ines.getByRole('tab', { name: 'Contacts' }).click();
      assert.equal(await treeItem(ines, 'MARTIN Léa').count(), 0);
    }),
  );

  it(
    'Échanger des messages en privé (« Écrire en privé », 1:1): Enter sends, Shift+Enter is a new line, « Envoyer », smileys',
    onFailure(async () => {
      const menu = await rightClick(lea, 'BERNARD Hugo');
      await menu.getByRole('menuitem', { name: 'Écrire en privé' }).click();
      const leaConv = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
      await leaConv.getByRole('heading', { name: 'Conversation avec BERNARD Hugo' }).waitFor();
      const editor = leaConv.getByRole('textbox', { name: 'Message' });
      assert.equal(await editor.evaluate((el) => el === document.activeElement), true, 'the editor has focus');
      await lea.keyboard.type('Bonjour Hugo !');
      await lea.keyboard.press('Enter');
      assert.equal(await editor.inputValue(), '', 'Enter sent the message');
      await leaConv.getByRole('log', { name: 'Messages' }).getByText('Bonjour Hugo !').waitFor();

      // Hugo gets the conversation, with an unread count until he opens it.
      const hugoTab = hugo.getByRole('tab', { name: /^MARTIN Léa/ });
      await hugoTab.waitFor();
      const hugoConv = hugo.getByRole('tabpanel', { name: /^MARTIN Léa/ });
      await hugoConv.getByRole('log').getByText('Bonjour Hugo !').waitFor();
      const hugoEditor = hugoConv.getByRole('textbox', { name: 'Message' });
      await hugoEditor.click();
      await hugo.keyboard.type('Salut Léa');
      await hugo.keyboard.press('Shift+Enter');
      await hugo.keyboard.type('on révise ensemble ?');
      assert.equal(await hugoEditor.inputValue(), 'Salut Léa\non révise ensemble ?');
      await hugoConv.getByRole('button', { name: 'Envoyer' }).click();
      const received = leaConv.getByRole('log').locator('.line-in .text');
      await eventually(async () => assert.equal(await received.last().textContent(), 'Salut Léa\non révise ensemble ?'));

      // The smiley picker at the top left of the editor, by the keyboard.
      await leaConv.getByRole('button', { name: 'Insérer un smiley' }).click();
      const picker = lea.getByRole('dialog', { name: 'Smileys' });
      await eventually(async () =>
        assert.equal(await lea.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'sourire'),
      );
      await lea.keyboard.press('ArrowRight');
      await lea.keyboard.press('ArrowRight');
      await lea.keyboard.press('Enter');
      await picker.waitFor({ state: 'detached' });
      await lea.keyboard.type(' Oui !');
      assert.equal(await editor.inputValue(), '😂 Oui !');
      await lea.keyboard.press('Enter');
      await hugoConv.getByRole('log').getByText('😂 Oui !').waitFor();
      await shot(lea, 'conversation');
    }),
  );

  it(
    'A network drop: the client reconnects by itself and keeps the text being typed',
    onFailure(async () => {
      const editor = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByRole('textbox', { name: 'Message' });
      await editor.fill('Un message pas encore envoyé');
      await server.restart();
      await lea.getByText('Connexion perdue. Reconnexion en cours…').waitFor();
      await lea.getByRole('status').getByText('Connexion rétablie.').waitFor({ timeout: 20_000 });
      assert.equal(await editor.inputValue(), 'Un message pas encore envoyé');
      await eventually(
        async () => assert.equal((await light(treeItem(lea, 'BERNARD Hugo'))).state, 'available'),
        20_000,
      );
      await editor.press('Enter');
      await hugo.getByRole('tabpanel', { name: /^MARTIN Léa/ }).getByRole('log').getByText('Un message pas encore envoyé').waitFor();
    }),
  );

  it(
    'Message text is always text: an XSS corpus arrives verbatim and nothing runs',
    onFailure(async () => {
      const corpus = [
        '<script>window.__xss = 1; alert(1)</script>',
        '<img src=x onerror="window.__xss = 2; alert(2)">',
        '<svg onload="window.__xss = 3">',
        '"><iframe src="javascript:window.__xss = 4"></iframe>',
        '<a href="javascript:alert(5)">clique</a>',
        '&lt;b&gt;pas gras&lt;/b&gt; &amp; <b>pas gras non plus</b>',
        '{{constructor.constructor("window.__xss = 6")()}}',
        ']]><!-- --><?xml version="1.0"?>',
      ];
      const editor = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByRole('textbox', { name: 'Message' });
      for (const text of corpus) {
        await editor.fill(text);
        await editor.press('Enter');
      }
      const log = hugo.getByRole('tabpanel', { name: /^MARTIN Léa/ }).getByRole('log');
      const texts = log.locator('.line-in .text');
      await eventually(async () => assert.deepEqual((await texts.allTextContents()).slice(-corpus.length), corpus));
      for (const page of [lea, hugo]) {
        assert.equal(await page.evaluate(() => window.__xss), undefined);
        const log = page.getByRole('log');
        assert.equal(await log.locator('script, img, svg, iframe, a, b').count(), 0, 'no element came from a message');
      }
    }),
  );

  it(
    'Supprimer une catégorie: « Oui »; its contacts move to « Autres contacts »',
    onFailure(async () => {
      // The visible « Actions » button acts on the selected row.
      await treeItem(lea, 'Chorale (1)').click();
      await lea.getByRole('button', { name: 'Actions' }).click();
      await lea.getByRole('menu', { name: 'Actions : Chorale (1)' }).getByRole('menuitem', { name: 'Supprimer catégorie' }).click();
      const confirm = lea.getByRole('alertdialog', { name: 'Supprimer catégorie' });
      await confirm.getByText('Supprimer la catégorie « Chorale » ?', { exact: false }).waitFor();
      // « Non » keeps it.
      await confirm.getByRole('button', { name: 'Non' }).click();
      await treeItem(lea, 'Chorale (1)').waitFor();
      await (await rightClick(lea, 'Chorale (1)')).getByRole('menuitem', { name: 'Supprimer catégorie' }).click();
      await lea.getByRole('alertdialog', { name: 'Supprimer catégorie' }).getByRole('button', { name: 'Oui' }).click();
      await treeItem(lea, 'Autres contacts (1)').waitFor();
      await eventually(async () => assert.equal(await treeItem(lea, 'Chorale (1)').count(), 0));
      assert.equal(await categoryOf(treeItem(lea, 'PETIT Inès')), 'Autres contacts (1)');
      // No « empty category » message for a category deleted on purpose.
      assert.equal(await lea.getByText('ne contient plus de contacts').count(), 0);
    }),
  );

  it(
    'Supprimer un contact: removed on both sides; the emptied category goes with an information message',
    onFailure(async () => {
      const menu = await rightClick(lea, 'BERNARD Hugo');
      await menu.getByRole('menuitem', { name: 'Supprimer contact' }).click();
      const confirm = lea.getByRole('alertdialog', { name: 'Supprimer contact' });
      await confirm.getByText('Supprimer BERNARD Hugo de tes contacts ?', { exact: false }).waitFor();
      await confirm.getByRole('button', { name: 'Oui' }).click();
      await lea.getByRole('status').getByText('La catégorie « Ma classe » ne contient plus de contacts : elle a été supprimée.').waitFor();
      await eventually(async () => {
        assert.equal(await treeItem(lea, 'BERNARD Hugo').count(), 0);
        assert.equal(await lea.getByRole('treeitem', { name: /^Ma classe/ }).count(), 0);
      });
      // Symmetric: Léa left Hugo's list too.
      await eventually(async () => assert.equal(await treeItem(hugo, 'MARTIN Léa').count(), 0));
    }),
  );

  it(
    'A refusal by the rules is explained in French: writing to someone who is no longer a contact',
    onFailure(async () => {
      const conv = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
      const editor = conv.getByRole('textbox', { name: 'Message' });
      await editor.fill('Tu es encore là ?');
      await editor.press('Enter');
      await conv
        .getByRole('log')
        .getByText(
          "Message non remis : Tu ne peux écrire qu'aux contacts qui ont accepté ta demande de contact.",
        )
        .waitFor();
    }),
  );
});
