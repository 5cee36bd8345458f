// Desktop notifications and the sound: off until the user turns them on in
// « Réglages » (the browser's permission is asked then, never at load), kept
// for the account; with the page hidden, a new message shows a notification
// (who, the text) and plays the chime; with the page shown, neither. Headless
// Chromium shows no notification on a desktop: the page's Notification and
// AudioContext are wrapped to record what the client asked for.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, launchBrowser, setPageHidden, shot, signIn, startServer, writeTo, eventually } from './harness.mjs';

/** Records notifications, permission requests and oscillators started, then lets the real ones run. */
function spy() {
  window.spied = { notes: [], asked: 0, tones: 0 };
  const Real = window.Notification;
  class Spy extends Real {
    constructor(title, options) {
      super(title, options);
      window.spied.notes.push({ title, body: options?.body });
    }
    static requestPermission(...args) {
      window.spied.asked += 1;
      return Real.requestPermission(...args);
    }
  }
  Object.defineProperty(Spy, 'permission', { get: () => Real.permission });
  window.Notification = Spy;
  const osc = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function (...args) {
    window.spied.tones += 1;
    return osc.apply(this, args);
  };
}

const spied = (page) => page.evaluate(() => window.spied);

describe('notifications', () => {
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

  it('asked from « Réglages », remembered, shown only while the page is hidden', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { permissions: ['notifications'], init: spy, axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });

    // Off by default: a message with the page hidden notifies nothing, and nothing was asked at load.
    await setPageHidden(lea, true);
    await writeTo(hugo, 'MARTIN Léa', 'Premier message');
    await eventually(async () => assert.match(await lea.title(), /^\(1\)/));
    assert.deepEqual(await spied(lea), { notes: [], asked: 0, tones: 0 });
    await setPageHidden(lea, false);

    await lea.getByRole('button', { name: 'Réglages' }).click();
    const dialog = lea.getByRole('dialog', { name: 'Réglages' });
    await dialog.getByRole('group', { name: 'Nouveaux messages quand la fenêtre du chat est cachée' }).waitFor();
    await dialog.getByRole('checkbox', { name: 'Afficher une notification sur le bureau' }).check();
    await dialog.getByRole('checkbox', { name: 'Jouer un son' }).check();
    // (The context granted the permission already, so the click had nothing to ask.)
    assert.equal(await dialog.getByRole('checkbox', { name: 'Afficher une notification sur le bureau' }).isChecked(), true);
    await shot(lea, 'settings');
    await checkA11y(lea, 'the settings dialog');
    await dialog.getByRole('button', { name: 'Fermer' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await lea.evaluate(() => document.activeElement?.textContent), 'Réglages', 'focus back on the button');

    await setPageHidden(lea, true);
    await writeTo(hugo, 'MARTIN Léa', 'Tu viens au foot ?');
    await eventually(async () => assert.deepEqual((await spied(lea)).notes, [{ title: 'BERNARD Hugo', body: 'Tu viens au foot ?' }]));
    assert.ok((await spied(lea)).tones >= 1, 'the chime played');

    // Seen: no notification for the next one.
    await setPageHidden(lea, false);
    await writeTo(hugo, 'MARTIN Léa', 'Je suis devant le gymnase.');
    await lea.getByRole('tabpanel', { name: 'BERNARD Hugo' }).getByText('Je suis devant le gymnase.').waitFor();
    assert.equal((await spied(lea)).notes.length, 1);

    // Remembered: after signing in again, both boxes are ticked.
    await lea.reload();
    await lea.getByLabel('Identifiant').fill('lea.martin');
    await lea.getByLabel('Mot de passe').fill('demo');
    await lea.getByRole('button', { name: 'Se connecter' }).click();
    await lea.getByRole('button', { name: 'Réglages' }).click();
    assert.equal(await dialog.getByRole('checkbox', { name: 'Afficher une notification sur le bureau' }).isChecked(), true);
    assert.equal(await dialog.getByRole('checkbox', { name: 'Jouer un son' }).isChecked(), true);
    await dialog.getByRole('button', { name: 'Fermer' }).click();
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });

  it('a browser that refuses notifications: the box stays unticked, the reason is said', async () => {
    const ines = await signIn(browser, server, 'ines.petit', { init: spy });
    await ines.getByRole('button', { name: 'Réglages' }).click();
    const dialog = ines.getByRole('dialog', { name: 'Réglages' });
    const box = dialog.getByRole('checkbox', { name: 'Afficher une notification sur le bureau' });
    await box.click();
    await dialog.getByRole('alert').getByText('Ton navigateur refuse les notifications de ce site.', { exact: false }).waitFor();
    assert.equal(await box.isChecked(), false);
    assert.deepEqual(ines.errors, []);
  });
});
