// The seed's conversations with several people (« Chatter »: « Comment ouvrir
// une discussion ? », « Comment échanger des messages ? », « Comment gérer les
// participants ? »), played by MARTIN Léa (who creates the conversation),
// BERNARD Hugo (her classmate), DURAND Anne (their teacher) and PETIT Inès
// (Léa's contact through the « Chorale » group), each in a browser context of
// their own: « Commencer conversation » and its name, the seed's event lines,
// the invitation in « Mes demandes », participants with their lights,
// « Inviter contact » showing only active (« Disponible ») contacts, « Retirer de la
// conversation » for the creator only (by the keyboard), a declined
// invitation, an invitation the school's rules refuse, the history — from
// one's invitation on — when the conversation is opened again after signing in
// again, and axe-core's checks on these screens.
//
// The tests of this file are one story and run in order on one server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COLOURS,
  befriend,
  checkA11y,
  cli,
  eventually,
  launchBrowser,
  rightClick,
  shot,
  signIn,
  startServer,
  treeItem,
} from './harness.mjs';

const TIME = '\\d{2}:\\d{2}:\\d{2}';
const ROOM = 'Sortie au musée 🎨';

describe('conversations with several people (rooms)', () => {
  let server;
  let browser;
  let lea;
  let hugo;
  let anne;
  const pages = [];

  before(async () => {
    // Léa sends 55 messages in a row to fill the archive: no message rate here (the
    // limits are tested in tests/interop/test_rate_limits.py).
    server = await startServer({ extraToml: '[rates.pupils]\nmessages_per_minute = 0\n' });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const page of pages) assert.deepEqual(page.errors, [], 'no page errors nor dialogs');
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

  const open = async (login) => {
    const page = await signIn(browser, server, login, { axe: true });
    pages.push(page);
    return page;
  };
  const panel = (page) => page.getByRole('tabpanel', { name: ROOM });
  const log = (page) => panel(page).getByRole('log', { name: 'Messages' });
  const participants = (page) => panel(page).getByRole('list', { name: 'Participants' });
  const participantNames = async (page) =>
    (await participants(page).getByRole('listitem').locator('.participant-button, .participant-name').allTextContents()).map(
      (s) => s.trim(),
    );
  // The server's invitation speaks to a pupil with « tu », to an adult with « vous ».
  const invites = (inviter, pupil, room = ROOM) =>
    `${inviter} ${pupil ? "t'invite" : 'vous invite'} dans la conversation « ${room} ».`;
  const acceptInvitation = async (page, inviter, pupil) => {
    await page.getByRole('tab', { name: /^Mes demandes \(\d+\)$/ }).click();
    const request = page.getByRole('listitem').filter({ hasText: invites(inviter, pupil) });
    await request.getByText('Invitation à une conversation').waitFor();
    await request.getByRole('button', { name: 'Accepter' }).click();
    await request.waitFor({ state: 'detached' });
    await page.getByRole('tab', { name: 'Contacts' }).click();
    await panel(page).waitFor();
  };

  it(
    'Comment ouvrir une discussion: « Commencer conversation », its name, the seed\'s event lines, the invitation accepted',
    onFailure(async () => {
      lea = await open('lea.martin');
      hugo = await open('hugo.bernard');
      anne = await open('anne.durand');
      await befriend(hugo, lea, { requesterName: 'BERNARD Hugo', accepterName: 'MARTIN Léa', search: 'Martin' });
      await befriend(anne, lea, { requesterName: 'DURAND Anne', accepterName: 'MARTIN Léa', search: 'Léa' });

      const menu = await rightClick(lea, 'BERNARD Hugo');
      await menu.getByRole('menuitem', { name: 'Commencer conversation' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Commencer conversation' });
      // No name: said in French, nothing is made.
      await dialog.getByRole('button', { name: 'OK' }).click();
      await dialog.getByRole('alert').getByText('Donne un nom à la conversation.').waitFor();
      await checkA11y(lea, '« Commencer conversation » with an error');
      await dialog.getByRole('textbox', { name: 'Nom de la conversation' }).fill(ROOM);
      await dialog.getByRole('button', { name: 'OK' }).click();
      await dialog.waitFor({ state: 'detached' });

      await panel(lea).getByRole('heading', { name: `Conversation « ${ROOM} »` }).waitFor();
      await log(lea)
        .getByText(
          "Le salon de discussion est verrouillé, entrée impossible jusqu'à ce que la configuration soit déverrouillée",
        )
        .waitFor();
      await log(lea).getByText('Le salon de discussion est maintenant déverrouillé').waitFor();
      const events = await log(lea).locator('.event').allTextContents();
      assert.ok(
        events.findIndex((e) => e.includes('verrouillé, entrée impossible')) <
          events.findIndex((e) => e.includes('maintenant déverrouillé')),
        'locked, then unlocked',
      );
      assert.deepEqual(await participantNames(lea), ['MARTIN Léa']);
      const editor = panel(lea).getByRole('textbox', { name: 'Message' });
      assert.equal(await editor.evaluate((el) => el === document.activeElement), true, 'the editor has focus');

      // The invitation was sent by itself: Hugo is told, finds it in « Mes demandes » and accepts.
      await hugo.getByRole('status').getByText(invites('MARTIN Léa', true)).waitFor();
      await acceptInvitation(hugo, 'MARTIN Léa', true);
      await eventually(async () => assert.deepEqual(await participantNames(hugo), ['BERNARD Hugo', 'MARTIN Léa']));
      await log(lea).getByText(new RegExp(`^BERNARD Hugo a rejoint la conversation \\| ${TIME}\\.$`)).waitFor();
      await eventually(async () => assert.deepEqual(await participantNames(lea), ['BERNARD Hugo', 'MARTIN Léa']));
    }),
  );

  it(
    'Comment échanger des messages: everyone reads what each writes; participants show their states',
    onFailure(async () => {
      const hugoEditor = panel(hugo).getByRole('textbox', { name: 'Message' });
      await hugoEditor.fill('Bonjour Léa ! <b>on y va</b>');
      await hugoEditor.press('Enter');
      await log(lea).getByText('Bonjour Léa ! <b>on y va</b>').waitFor();
      const leaEditor = panel(lea).getByRole('textbox', { name: 'Message' });
      await leaEditor.fill('Salut Hugo 🙂');
      await panel(lea).getByRole('button', { name: 'Envoyer' }).click();
      for (const page of [lea, hugo]) {
        await eventually(async () =>
          assert.deepEqual(
            await log(page).locator('.line-in, .line-out').evaluateAll((els) =>
              els.map((e) => [e.querySelector('.who').textContent, e.querySelector('.text').textContent]),
            ),
            [
              ['BERNARD Hugo', 'Bonjour Léa ! <b>on y va</b>'],
              ['MARTIN Léa', 'Salut Hugo 🙂'],
            ],
          ),
        );
      }
      assert.equal(await log(lea).locator('b').count(), 0, 'message text stays text');

      // Léa looks at another conversation: the room's tab counts what she has not read.
      await (await rightClick(lea, 'DURAND Anne')).getByRole('menuitem', { name: 'Écrire en privé' }).click();
      await lea.getByRole('tabpanel', { name: 'DURAND Anne' }).waitFor();
      await hugoEditor.fill('Tu as vu ?');
      await hugoEditor.press('Enter');
      const tabs = lea.getByRole('tablist', { name: 'Conversations' });
      await tabs.getByRole('tab', { name: `${ROOM} 1 non lu(s)` }).click();
      await tabs.getByRole('tab', { name: ROOM, exact: true }).waitFor();
      await log(lea).getByText('Tu as vu ?').waitFor();
      await lea.getByRole('tab', { name: 'DURAND Anne' }).click();
      await lea.getByRole('tabpanel', { name: 'DURAND Anne' }).getByRole('button', { name: 'Fermer la conversation' }).click();
      await panel(lea).waitFor();

      // Hugo's state reaches the participants list: orange light, and the state as text.
      await hugo.getByRole('banner').getByRole('button', { name: /^État : / }).click();
      await hugo.getByRole('menu', { name: 'Changer mon état' }).getByRole('menuitemradio', { name: 'Absent' }).click();
      const hugoRow = participants(lea).getByRole('listitem').filter({ hasText: 'BERNARD Hugo' });
      await eventually(async () => {
        assert.equal(await hugoRow.getAttribute('data-state'), 'away');
        assert.equal(
          await hugoRow.locator('.dot').evaluate((d) => getComputedStyle(d).backgroundColor),
          COLOURS.away,
        );
      });
      assert.equal((await hugoRow.locator('.sr-only').textContent()).trim(), 'Absent', 'the state as text too');
      await hugo.getByRole('banner').getByRole('button', { name: /^État : / }).click();
      await hugo.getByRole('menu', { name: 'Changer mon état' }).getByRole('menuitemradio', { name: 'Disponible' }).click();
      await eventually(async () => assert.equal(await hugoRow.getAttribute('data-state'), 'available'));
      await checkA11y(lea, 'a conversation with several people');
    }),
  );

  it(
    '« Inviter contact »: the tree of active (« Disponible ») contacts only, as « Commencer conversation »; the new participant joins and reads from his invitation on',
    onFailure(async () => {
      // Inès is Léa's contact (the « Chorale » group), but signed out: not offered.
      const ines = await open('ines.petit');
      await befriend(ines, lea, { requesterName: 'PETIT Inès', accepterName: 'MARTIN Léa', search: 'Léa' });
      await ines.context().close();
      pages.splice(pages.indexOf(ines), 1);
      await eventually(async () => assert.equal(await treeItem(lea, 'PETIT Inès').getAttribute('data-state'), 'offline'));

      // The seed's « contacts actifs », one rule for « Inviter contact » and « Commencer
      // conversation »: « Disponible » (green) only. Anne « Absent », then « Ne pas
      // déranger », is neither offered nor can be started a conversation with.
      const setState = async (page, state) => {
        await page.getByRole('banner').getByRole('button', { name: /^État : / }).click();
        await page.getByRole('menu', { name: 'Changer mon état' }).getByRole('menuitemradio', { name: state }).click();
      };
      for (const [state, shown] of [
        ['Absent', 'away'],
        ['Ne pas déranger', 'dnd'],
      ]) {
        await setState(anne, state);
        await eventually(async () => assert.equal(await treeItem(lea, 'DURAND Anne').getAttribute('data-state'), shown));
        await panel(lea).getByRole('button', { name: 'Inviter contact' }).click();
        const none = lea.getByRole('dialog', { name: 'Inviter contact' });
        await none.getByText("Aucun de tes contacts disponibles n'est hors de la conversation.").waitFor();
        assert.equal(await none.getByRole('radio').count(), 0);
        await none.getByRole('button', { name: 'Annuler' }).click();
        await none.waitFor({ state: 'detached' });
        const menu = await rightClick(lea, 'DURAND Anne');
        assert.equal(
          await menu.getByRole('menuitem', { name: 'Commencer conversation' }).getAttribute('aria-disabled'),
          'true',
          `« Commencer conversation » with a contact « ${state} »`,
        );
        await lea.keyboard.press('Escape');
      }
      await setState(anne, 'Disponible');
      await eventually(async () => assert.equal(await treeItem(lea, 'DURAND Anne').getAttribute('data-state'), 'available'));

      await panel(lea).getByRole('button', { name: 'Inviter contact' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Inviter contact' });
      await dialog.getByRole('radio').first().waitFor();
      // Hugo is in the conversation already, Inès is offline: only Anne is there.
      assert.deepEqual(await dialog.getByRole('radio').evaluateAll((els) => els.map((e) => e.labels[0].textContent)), [
        'DURAND Anne',
      ]);
      await dialog.getByRole('group', { name: 'Autres contacts (1)' }).waitFor();
      await checkA11y(lea, '« Inviter contact »');
      // By the keyboard: the first contact has the focus; Space chooses it, Tab goes to « Inviter ».
      await lea.keyboard.press('Space');
      await lea.keyboard.press('Tab');
      assert.equal(
        await dialog.getByRole('button', { name: 'Inviter' }).evaluate((el) => el === document.activeElement),
        true,
      );
      await lea.keyboard.press('Enter');
      await dialog.waitFor({ state: 'detached' });
      await lea.getByRole('status').getByText('Invitation envoyée à DURAND Anne.').waitFor();

      await anne.getByRole('tab', { name: 'Mes demandes (1)' }).click();
      await checkA11y(anne, '« Mes demandes » with an invitation to a conversation');
      await acceptInvitation(anne, 'MARTIN Léa', false);
      for (const page of [lea, hugo]) {
        await log(page).getByText(new RegExp(`^DURAND Anne a rejoint la conversation \\| ${TIME}\\.$`)).waitFor();
        await eventually(async () =>
          assert.deepEqual(await participantNames(page), ['BERNARD Hugo', 'DURAND Anne', 'MARTIN Léa']),
        );
      }
      // Anne came in after the messages: a newcomer reads the conversation from his
      // invitation on, not what was said before him.
      const leaEditor = panel(lea).getByRole('textbox', { name: 'Message' });
      await leaEditor.fill('Bienvenue Anne');
      await leaEditor.press('Enter');
      await log(anne).getByText('Bienvenue Anne').waitFor();
      assert.equal(await log(anne).getByText('Salut Hugo 🙂').count(), 0, 'nothing from before her invitation');
      assert.equal(await log(anne).getByText('Bonjour Léa ! <b>on y va</b>').count(), 0);
      await lea.getByRole('button', { name: 'Fermer ce message' }).click();
      await shot(lea, 'room');
    }),
  );

  it(
    '« Retirer de la conversation »: the creator only, by the keyboard, confirmed; the removed one is told',
    onFailure(async () => {
      // Not the creator: the participants are no buttons, there is no menu to open.
      assert.equal(await participants(hugo).getByRole('button').count(), 0);
      assert.equal(await participants(anne).getByRole('button').count(), 0);

      const hugoButton = participants(lea).getByRole('button', { name: 'BERNARD Hugo' });
      await hugoButton.focus();
      await lea.keyboard.press('Shift+F10');
      const menu = lea.getByRole('menu', { name: 'Actions : BERNARD Hugo' });
      await menu.getByRole('menuitem', { name: 'Retirer de la conversation' }).waitFor();
      await lea.keyboard.press('Enter');
      const confirm = lea.getByRole('alertdialog', { name: 'Retirer de la conversation' });
      await confirm.getByText('Renvoyer ce participant de la conversation ?').waitFor();
      assert.equal(
        await confirm.getByRole('button', { name: 'Non' }).evaluate((el) => el === document.activeElement),
        true,
        '« Non » has the focus first',
      );
      await checkA11y(lea, 'the removal confirmation');
      await confirm.getByRole('button', { name: 'Oui' }).click();
      // The removed participant's button is gone: the focus goes to « Inviter contact ».
      await eventually(async () =>
        assert.equal(
          await panel(lea).getByRole('button', { name: 'Inviter contact' }).evaluate((el) => el === document.activeElement),
          true,
        ),
      );

      for (const page of [lea, anne]) {
        await log(page).getByText(new RegExp(`^BERNARD Hugo a quitté la conversation : ${TIME}$`)).waitFor();
        await eventually(async () => assert.deepEqual(await participantNames(page), ['DURAND Anne', 'MARTIN Léa']));
      }
      // Hugo is a pupil: the server says « tu » to him.
      const notice = `MARTIN Léa t'a retiré de la conversation ${ROOM}.`;
      await hugo.getByRole('status').getByText(notice).waitFor();
      await log(hugo).getByText(notice).waitFor();
      assert.equal(await panel(hugo).getByRole('textbox', { name: 'Message' }).isDisabled(), true);
      await panel(hugo).getByText("Tu n'es plus dans cette conversation.").waitFor();
    }),
  );

  it(
    'Refuser une invitation: the inviter reads that it was declined',
    onFailure(async () => {
      await panel(lea).getByRole('button', { name: 'Inviter contact' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Inviter contact' });
      await dialog.getByRole('radio', { name: 'BERNARD Hugo' }).check();
      await dialog.getByRole('button', { name: 'Inviter' }).click();
      await hugo.getByRole('tab', { name: 'Mes demandes (1)' }).click();
      const request = hugo.getByRole('listitem').filter({ hasText: ROOM });
      await request.getByRole('button', { name: 'Refuser' }).click();
      await request.waitFor({ state: 'detached' });
      await hugo.getByRole('tab', { name: 'Mes demandes', exact: true }).waitFor();
      await log(lea).getByText(`BERNARD Hugo a refusé l'invitation dans la conversation « ${ROOM} ».`).waitFor();
      await hugo.getByRole('tab', { name: 'Contacts' }).click();
    }),
  );

  it(
    'An invitation the school\'s rules refuse is explained in French',
    onFailure(async () => {
      // The administrator lets the collège's pupils reach each other, and keeps pupils and
      // teachers to their own class. Noah (6e B) becomes Léa's contact; but a pupils'
      // room stays within the rules, and Noah may not reach Anne (6e A's teacher), who is
      // in it: his invitation is refused, and says why.
      const rules = join(server.root, 'pupils-together.json');
      writeFileSync(
        rules,
        JSON.stringify([
          { from: ['student'], to: ['student'], scope: 'same_structure' },
          { from: ['student'], to: ['teacher'], scope: 'same_class' },
          { from: ['student', 'relative'], to: ['personnel'], scope: 'same_structure' },
          { from: ['relative'], to: ['student'], scope: 'own_children' },
          { from: ['relative'], to: ['teacher'], scope: 'children_classes' },
          { from: ['teacher', 'personnel'], to: ['teacher', 'personnel'], scope: 'same_structure' },
        ]),
      );
      // The command returns once the running server applies the change.
      cli(server, 'rules', 'set', '0750001A', rules);
      const noah = await open('noah.robert');
      try {
        await befriend(noah, lea, { requesterName: 'ROBERT Noah', accepterName: 'MARTIN Léa', search: 'Léa' });
        await panel(lea).getByRole('button', { name: 'Inviter contact' }).click();
        const dialog = lea.getByRole('dialog', { name: 'Inviter contact' });
        await dialog.getByRole('radio', { name: 'ROBERT Noah' }).check();
        await dialog.getByRole('button', { name: 'Inviter' }).click();
        await log(lea)
          .getByText(
            "Invitation de ROBERT Noah impossible : Les règles de l'établissement ne permettent pas à ROBERT Noah de communiquer avec DURAND Anne, membre de cette conversation.",
          )
          .waitFor();
        await noah.getByRole('tab', { name: 'Mes demandes', exact: true }).waitFor();
      } finally {
        cli(server, 'rules', 'reset', '0750001A');
        await noah.context().close();
        pages.splice(pages.indexOf(noah), 1);
      }
    }),
  );

  it(
    'History: after signing in again (which forgot the open conversations in this browser) « Mes conversations » opens it again, with its messages, and after closing it',
    onFailure(async () => {
      await anne.getByRole('button', { name: 'Se déconnecter' }).click();
      await anne.getByRole('button', { name: 'Se connecter' }).waitFor();
      await anne.getByLabel('Identifiant').fill('anne.durand');
      await anne.getByLabel('Mot de passe').fill('demo');
      await anne.getByRole('button', { name: 'Se connecter' }).click();
      await anne.getByRole('button', { name: 'Mes conversations' }).click();
      const mine = anne.getByRole('dialog', { name: 'Mes conversations' });
      await mine.getByRole('listitem').filter({ hasText: ROOM }).getByRole('button', { name: 'Ouvrir' }).click();
      await panel(anne).waitFor();
      await log(anne).getByText('Bienvenue Anne').waitFor();
      await eventually(async () => assert.deepEqual(await participantNames(anne), ['DURAND Anne', 'MARTIN Léa']));
      // Each message once, although the room sent its history on each join.
      assert.equal(await log(anne).getByText('Bienvenue Anne').count(), 1);
      assert.equal(await log(anne).getByText('Salut Hugo 🙂').count(), 0, 'still nothing from before her');

      // « Fermer la conversation » leaves it: the others see Anne go.
      await panel(anne).getByRole('button', { name: 'Fermer la conversation' }).click();
      await panel(anne).waitFor({ state: 'detached' });

      // « Mes conversations » lists the conversations one belongs to; « Ouvrir » comes back in.
      await anne.getByRole('button', { name: 'Mes conversations' }).click();
      const dialog = anne.getByRole('dialog', { name: 'Mes conversations' });
      const item = dialog.getByRole('listitem').filter({ hasText: ROOM });
      await item.getByRole('button', { name: 'Ouvrir' }).waitFor();
      await checkA11y(anne, '« Mes conversations »');
      await item.getByRole('button', { name: 'Ouvrir' }).click();
      await dialog.waitFor({ state: 'detached' });
      await log(anne).getByText('Bienvenue Anne').waitFor();
      await eventually(async () => assert.deepEqual(await participantNames(anne), ['DURAND Anne', 'MARTIN Léa']));
      await panel(anne).getByRole('button', { name: 'Fermer la conversation' }).click();

      // Léa saw Anne come, go when she signed out, come back, leave, come back and leave.
      await eventually(async () => {
        const anneEvents = (await log(lea).locator('.event').allTextContents()).filter((e) => e.startsWith('DURAND Anne'));
        assert.deepEqual(
          anneEvents.map((e) => e.replace(new RegExp(TIME), 'HH:MM:SS')),
          [
            'DURAND Anne a rejoint la conversation | HH:MM:SS.',
            'DURAND Anne a quitté la conversation : HH:MM:SS',
            'DURAND Anne a rejoint la conversation | HH:MM:SS.',
            'DURAND Anne a quitté la conversation : HH:MM:SS',
            'DURAND Anne a rejoint la conversation | HH:MM:SS.',
            'DURAND Anne a quitté la conversation : HH:MM:SS',
          ],
        );
      });
      await eventually(async () => assert.deepEqual(await participantNames(lea), ['MARTIN Léa']));
    }),
  );

  it(
    'A network drop: the conversation is joined again by itself, the draft kept, each message once',
    onFailure(async () => {
      const editor = panel(lea).getByRole('textbox', { name: 'Message' });
      await editor.fill('Écrit pendant la coupure');
      await server.restart();
      await lea.getByText('Connexion perdue. Reconnexion en cours…').waitFor();
      await lea.getByRole('status').getByText('Connexion rétablie.').waitFor({ timeout: 20_000 });
      await eventually(async () => assert.deepEqual(await participantNames(lea), ['MARTIN Léa']), 20_000);
      assert.equal(await editor.inputValue(), 'Écrit pendant la coupure');
      await editor.press('Enter');
      await log(lea).locator('.line-out .text').getByText('Écrit pendant la coupure').waitFor();
      // The room sent its history again on the new join: nothing is shown twice.
      assert.equal(await log(lea).getByText('Salut Hugo 🙂').count(), 1);
      assert.equal(await log(lea).getByText('Bonjour Léa ! <b>on y va</b>').count(), 1);
    }),
  );

  it(
    '« Messages précédents »: the room\'s archive beyond the 50 messages sent on joining',
    onFailure(async () => {
      // Léa has the whole conversation: it says where it starts. Anne reads it from her
      // invitation on.
      await log(lea).getByText('Début de la conversation').waitFor();
      const editor = panel(lea).getByRole('textbox', { name: 'Message' });
      const numbered = Array.from({ length: 55 }, (_, i) => `n°${i + 1}`);
      for (const text of numbered) {
        await editor.fill(text);
        await editor.press('Enter');
      }
      await log(lea).locator('.line-out .text').getByText('n°55', { exact: true }).waitFor();

      await anne.getByRole('button', { name: 'Mes conversations' }).click();
      await anne
        .getByRole('dialog', { name: 'Mes conversations' })
        .getByRole('listitem')
        .filter({ hasText: ROOM })
        .getByRole('button', { name: 'Ouvrir' })
        .click();
      const texts = () => log(anne).locator('.line-in .text, .line-out .text').allTextContents();
      await log(anne).locator('.text').getByText('n°55', { exact: true }).waitFor();
      // The last 50 only, so far.
      assert.deepEqual(await texts(), numbered.slice(5));
      await checkA11y(anne, 'a conversation with « Messages précédents »');
      await log(anne).getByRole('button', { name: 'Messages précédents' }).click();
      await log(anne).getByText('Début de la conversation').waitFor();
      assert.deepEqual(await texts(), ['Bienvenue Anne', 'Écrit pendant la coupure', ...numbered]);
      assert.equal(
        await log(anne).evaluate((el) => el === document.activeElement),
        true,
        'the focus goes to the messages when the button goes',
      );
    }),
  );

  it(
    'A conversation\'s name is text: a name made of HTML shows verbatim everywhere and nothing runs',
    onFailure(async () => {
      const name = '<img src=x onerror="window.__xss = 1"><b>Gras</b>';
      await (await rightClick(lea, 'BERNARD Hugo')).getByRole('menuitem', { name: 'Commencer conversation' }).click();
      const dialog = lea.getByRole('dialog', { name: 'Commencer conversation' });
      await dialog.getByRole('textbox', { name: 'Nom de la conversation' }).fill(name);
      await dialog.getByRole('button', { name: 'OK' }).click();
      // A second conversation with several people, beside the first.
      const tabs = lea.getByRole('tablist', { name: 'Conversations' });
      await tabs.getByRole('tab', { name, exact: true }).waitFor();
      await tabs.getByRole('tab', { name: ROOM, exact: true }).waitFor();
      await lea.getByRole('tabpanel', { name }).getByRole('heading', { name: `Conversation « ${name} »` }).waitFor();

      await hugo.getByRole('tab', { name: 'Mes demandes (1)' }).click();
      const request = hugo.getByRole('listitem').filter({ hasText: invites('MARTIN Léa', true, name) });
      await request.getByRole('button', { name: 'Accepter' }).click();
      await hugo.getByRole('tab', { name, exact: true }).waitFor();
      for (const page of [lea, hugo]) {
        assert.equal(await page.locator('img, b').count(), 0, 'no markup from the name');
        assert.equal(await page.evaluate(() => window.__xss), undefined);
      }
    }),
  );
});
