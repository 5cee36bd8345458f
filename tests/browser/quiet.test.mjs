// Quiet hours and the kill switch in the web client (issue 16, docs/safety.md).
// Léa, a pupil, is in quiet hours (a window set through the command line, ending a
// few seconds from now): her client shows « Ne pas déranger : heures calmes
// jusqu’à … »; Hugo writes to her and his conversation tells him that his message
// will be delivered when they end; it reaches her then, and her banner goes.
// Then the collège's administrator sets the kill switch to « Lecture seule » with
// the school's text from the console: Léa's client shows the banner with the
// text, and her message is refused with it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, cli, launchBrowser, shot, signIn, startServer, writeTo } from './harness.mjs';
import { COLLEGE, LOCAL_ADMIN, announced, consoleSignIn, openConsole, openSection } from './admin-helpers.mjs';

const SCHOOL_TEXT = 'Incident en cours : reprise lundi.';
const hms = (d) => d.toISOString().slice(11, 19);

describe('quiet hours and the kill switch', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ extraToml: '[quiet_hours]\ndefault = false\ntick_ms = 100\n' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows quiet hours to the pupil and the sender, then delivers; shows the kill switch', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });

    const now = new Date();
    const end = new Date(Math.floor(now.getTime() / 1000) * 1000 + 10_000);
    const start = new Date(now.getTime() - 3600_000);
    cli(server, 'quiet', 'set', COLLEGE.id, '--time-zone', 'UTC', '--window', `student@${hms(start)}-${hms(end)}`);

    const banner = lea.getByRole('status').filter({ hasText: 'Ne pas déranger : heures calmes jusqu’à' });
    await banner.waitFor();
    assert.match(await banner.textContent(), new RegExp(`jusqu’à ${hms(end)}\\. Les messages reçus d’ici là te seront remis`));
    await checkA11y(lea, 'the quiet hours banner');
    await shot(lea, 'quiet-banner');

    await writeTo(hugo, 'MARTIN Léa', 'Tu as fini le devoir ?');
    await hugo
      .getByRole('tabpanel', { name: 'MARTIN Léa' })
      .getByText(`MARTIN Léa est en heures calmes jusqu’à ${hms(end)} : ton message lui sera remis à ce moment-là.`)
      .waitFor();
    await shot(hugo, 'quiet-held');
    // Not before the end; then delivered, and the banner goes.
    const message = lea.getByText('Tu as fini le devoir ?');
    assert.equal(await message.count(), 0, 'delivered during quiet hours');
    await message.first().waitFor({ timeout: 20_000 });
    assert.ok(Date.now() >= end.getTime() - 100, 'delivered before the end of the window');
    await banner.waitFor({ state: 'detached' });

    // The kill switch, from the console.
    const admin = await openConsole(browser, server, { axe: true });
    await consoleSignIn(admin, LOCAL_ADMIN);
    await openSection(admin, COLLEGE.name, 'Heures calmes et coupure');
    await admin.getByRole('radio', { name: /^Lecture seule/ }).check();
    await admin.getByRole('textbox', { name: /Texte de l’établissement/ }).fill(SCHOOL_TEXT);
    await checkA11y(admin, 'the kill switch form');
    await admin.getByRole('button', { name: 'Appliquer' }).click();
    await announced(admin, 'Coupure appliquée.');

    const shutdown = lea.getByRole('status').filter({ hasText: 'Messagerie en lecture seule' });
    await shutdown.waitFor();
    assert.match(await shutdown.textContent(), /Message de l’établissement : « Incident en cours : reprise lundi\. »/);
    await writeTo(lea, 'BERNARD Hugo', 'Je peux écrire ?');
    await lea
      .getByRole('tabpanel', { name: 'BERNARD Hugo' })
      .getByText(/tu peux lire, pas écrire.*Incident en cours : reprise lundi\./)
      .waitFor();
    await shot(lea, 'shutdown-read-only');

    // Back to normal: the banner goes.
    await admin.getByRole('radio', { name: /^Normal/ }).check();
    await admin.getByRole('button', { name: 'Appliquer' }).click();
    await shutdown.waitFor({ state: 'detached' });
  });
});
