// Presence: « Absent » by itself after a while without activity (10 minutes
// unless changed in « Réglages »), « Disponible » again at the next activity;
// the state chosen in the header is remembered and restored at the next
// login. The page's clock is Playwright's, jumped forward.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, eventually, launchBrowser, light, signIn, startServer, treeItem } from './harness.mjs';

describe('presence', () => {
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

  const myState = (page) => page.getByRole('banner').getByRole('button', { name: /^État : / }).textContent();
  const seenBy = (page, name, state) =>
    eventually(async () => assert.equal((await light(treeItem(page, name))).state, state));

  it('« Absent » after inactivity, back at the next activity; the chosen state restored at login', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { clock: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });

    await lea.clock.fastForward('09:00');
    assert.match(await myState(lea), /Disponible/, 'not yet after 9 minutes');
    await lea.clock.fastForward('01:30');
    await eventually(async () => assert.match(await myState(lea), /Absent/));
    await seenBy(hugo, 'MARTIN Léa', 'away');
    await lea.mouse.move(200, 200);
    await lea.mouse.move(220, 260);
    await eventually(async () => assert.match(await myState(lea), /Disponible/));
    await seenBy(hugo, 'MARTIN Léa', 'available');

    // « Jamais » in « Réglages »: no « Absent » any more.
    await lea.getByRole('button', { name: 'Réglages' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Réglages' });
    await dialog.getByRole('combobox', { name: 'Passer à « Absent » après un moment sans activité' }).selectOption({ label: 'Jamais' });
    await dialog.getByRole('button', { name: 'Fermer' }).click();
    await lea.clock.fastForward('31:00');
    await lea.waitForTimeout(500);
    assert.match(await myState(lea), /Disponible/);

    // The state chosen by hand is remembered for the next login.
    await lea.getByRole('button', { name: /^État : / }).click();
    await lea.getByRole('menuitemradio', { name: 'Ne pas déranger' }).click();
    await seenBy(hugo, 'MARTIN Léa', 'dnd');
    await lea.getByRole('button', { name: 'Se déconnecter' }).click();
    await seenBy(hugo, 'MARTIN Léa', 'offline');
    await lea.getByLabel('Identifiant').fill('lea.martin');
    await lea.getByLabel('Mot de passe').fill('demo');
    await lea.getByRole('button', { name: 'Se connecter' }).click();
    await eventually(async () => assert.match(await myState(lea), /Ne pas déranger/));
    await seenBy(hugo, 'MARTIN Léa', 'dnd');
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
