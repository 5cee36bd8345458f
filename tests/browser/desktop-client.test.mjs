// « Direct 1:1 messages from other XMPP clients show up as conversations »:
// MOREAU Claire (CPE) uses a desktop client (slixmpp, from the interop
// suite's virtualenv); DURAND Anne uses the web client. Claire's request
// shows in Anne's « Mes demandes »; once accepted, Claire's message opens a
// conversation in Anne's browser, and Anne's answer reaches the desktop client.
//
// Skipped when .venv (made by scripts/test for the interop suite) is missing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, launchBrowser, shot, signIn, startServer } from './harness.mjs';

const PYTHON = join(REPO, '.venv/bin/python');

describe('a desktop XMPP client and the web client', { skip: !existsSync(PYTHON) && 'no .venv (run scripts/test)' }, () => {
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

  it('a message from a desktop client opens a conversation; the answer goes back', async () => {
    const anne = await signIn(browser, server, 'anne.durand');
    const message = 'Bonjour, pouvez-vous passer au bureau de la vie scolaire ?';
    const reply = 'Oui, à la récréation.';
    const out = [];
    const client = spawn(
      PYTHON,
      [join(REPO, 'tests/browser/desktop_client.py'), String(server.c2sPort), 'claire.moreau@localhost', 'demo', 'anne.durand@localhost', message, reply],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    client.stdout.on('data', (d) => out.push(String(d)));
    client.stderr.on('data', (d) => out.push(String(d)));
    const exited = new Promise((res) => client.on('exit', (code) => res(code)));
    try {
      await anne.getByRole('tab', { name: 'Mes demandes (1)' }).click();
      await anne.getByRole('listitem').filter({ hasText: 'MOREAU Claire' }).getByRole('button', { name: 'Accepter' }).click();
      const conv = anne.getByRole('tabpanel', { name: /^MOREAU Claire/ });
      await conv.getByRole('log').getByText(message).waitFor({ timeout: 20_000 });
      const editor = conv.getByRole('textbox', { name: 'Message' });
      await editor.fill(reply);
      await editor.press('Enter');
      assert.equal(await exited, 0, `desktop client:\n${out.join('')}`);
      await anne.getByRole('tab', { name: 'Contacts' }).click();
      await anne.getByRole('tree').getByRole('treeitem', { name: 'MOREAU Claire', exact: true }).waitFor();
      await shot(anne, 'desktop-client');
      assert.deepEqual(anne.errors, []);
    } finally {
      client.kill();
    }
  });
});
