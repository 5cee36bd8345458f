// « tu » or « vous »: the client says « tu » to pupils and « vous » to adults
// (parents, teachers, staff), by the profile the directory gives and the
// server puts on the user's own card. Before the login it does not know:
// « vous », unless the portal says (`data-register` on embed.js's tag, or
// `?register=` on the address).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, launchBrowser, signIn, startServer, watch } from './harness.mjs';

const TU = {
  intro: "Connecte-toi avec l'identifiant et le mot de passe de ton ENT.",
  requests: "Tu n'as aucune demande en attente.",
  contacts: "Tu n'as pas encore de contact. Ouvre le menu de « Tous mes contacts » et choisis « Ajouter contacts ».",
};
const VOUS = {
  intro: "Connectez-vous avec l'identifiant et le mot de passe de votre ENT.",
  requests: "Vous n'avez aucune demande en attente.",
  contacts:
    "Vous n'avez pas encore de contact. Ouvrez le menu de « Tous mes contacts » et choisissez « Ajouter contacts ».",
};

describe('the register by profile', () => {
  let server;
  let browser;
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

  async function open(path = '/') {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1100, height: 700 } });
    context.setDefaultTimeout(TIMEOUT);
    const page = watch(await context.newPage());
    pages.push(page);
    await page.goto(`${server.url}${path}`);
    return page;
  }

  /** What the signed-in user reads: the empty contact tree, then « Mes demandes ». */
  async function reads(page, register) {
    // From the first moment the chat window shows (never the other register first).
    assert.equal(await page.getByRole('tabpanel', { name: 'Contacts' }).locator('.empty').textContent(), register.contacts);
    await page.getByRole('tab', { name: 'Mes demandes' }).click();
    await page.getByText(register.requests, { exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Contacts' }).click();
  }

  it('the login page says « vous » to whoever it does not know, « tu » when the portal asks', async () => {
    const page = await open();
    await page.getByText(VOUS.intro, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('alert').getByText('Saisissez votre identifiant et votre mot de passe.').waitFor();

    const pupil = await open('/?register=tu');
    await pupil.getByText(TU.intro, { exact: true }).waitFor();
    await pupil.getByRole('button', { name: 'Se connecter' }).click();
    await pupil.getByRole('alert').getByText('Saisis ton identifiant et ton mot de passe.').waitFor();

    // Anything else is no hint.
    const other = await open('/?register=%3Cb%3Etoi%3C/b%3E');
    await other.getByText(VOUS.intro, { exact: true }).waitFor();
  });

  it('a pupil reads « tu »; signed out, the login page says « vous » again', async () => {
    const lea = await signIn(browser, server, 'lea.martin');
    pages.push(lea);
    await reads(lea, TU);
    await lea.getByRole('button', { name: 'Se déconnecter' }).click();
    await lea.getByText(VOUS.intro, { exact: true }).waitFor();
  });

  it('a parent and a teacher read « vous »', async () => {
    for (const login of ['paul.martin', 'anne.durand']) {
      const page = await signIn(browser, server, login);
      pages.push(page);
      await reads(page, VOUS);
    }
  });

  it("the portal's hint reaches the login page in its floating window; the directory decides after", async () => {
    const page = await open('/');
    // A portal page of a pupil's session: embed.js with data-register="tu".
    await page.route(`${server.url}/portail-eleve`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>ENT</title>
          <script src="/embed.js" data-register="tu" defer></script></head>
          <body><main><h1>ENT</h1><a href="/" data-causerie-chat>Chat</a></main></body></html>`,
      }),
    );
    await page.goto(`${server.url}/portail-eleve`);
    await page.getByRole('link', { name: 'Chat' }).click();
    const frame = page.frameLocator('iframe[title="Chat"]');
    await frame.getByText(TU.intro, { exact: true }).waitFor();
    // The one who signs in is a teacher after all: the directory's profile wins.
    await frame.getByRole('textbox', { name: 'Identifiant' }).fill('marc.leroy');
    await frame.getByLabel('Mot de passe').fill('demo');
    await frame.getByRole('button', { name: 'Se connecter' }).click();
    await frame.getByText(VOUS.contacts, { exact: true }).waitFor();
  });
});
