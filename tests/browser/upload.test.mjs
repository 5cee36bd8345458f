// Sharing an image (XEP-0363, issue 15): the paperclip of the editor, shown
// because the collège allows sharing files (the server lists its upload
// service for Léa). A file of a type the client does not send, or too large,
// is refused before anything is sent, in French. A PNG is sent: Léa and Hugo
// both see it as an image (loaded from the server), not as a URL; the
// conversation passes axe.

import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { befriend, checkA11y, launchBrowser, shot, signIn, startServer, writeTo } from './harness.mjs';

/** A small valid PNG (blue pixels), built here. */
function png(width = 24, height = 16) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([0x20, 0x60, 0xd0]))]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function choose(page, panel, file) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    panel.getByRole('button', { name: 'Joindre un fichier' }).click(),
  ]);
  await chooser.setFiles(file);
}

describe('sharing files', () => {
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

  it('the paperclip sends an image that both see as an image', async () => {
    const lea = await signIn(browser, server, 'lea.martin', { axe: true });
    const hugo = await signIn(browser, server, 'hugo.bernard');
    await befriend(lea, hugo, { requesterName: 'MARTIN Léa', accepterName: 'BERNARD Hugo', search: 'Bernard' });
    await writeTo(lea, 'BERNARD Hugo', 'Regarde la photo de la sortie :');
    const panel = lea.getByRole('tabpanel', { name: 'BERNARD Hugo' });
    await panel.getByRole('button', { name: 'Joindre un fichier' }).waitFor();

    // Checked before sending, in French.
    await choose(lea, panel, { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<p>x</p>') });
    await lea.getByText('Seules les images (JPEG, PNG, WebP, GIF) et les PDF peuvent être envoyés.').waitFor();
    await choose(lea, panel, { name: 'grosse.png', mimeType: 'image/png', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
    await lea.getByText('Fichier trop gros : 10 Mo au plus.').waitFor();
    assert.equal(await panel.locator('.line-out img').count(), 0, 'nothing was sent');

    await choose(lea, panel, { name: 'sortie.png', mimeType: 'image/png', buffer: png() });
    const mine = panel.locator('.line-out').getByRole('img', { name: 'Image : sortie.png' });
    await mine.waitFor();
    const src = await mine.getAttribute('src');
    assert.match(src, /^http:\/\/localhost:\d+\/upload\/[0-9a-f]{32}\/sortie\.png$/);
    // Loaded from the server: a real image, not a broken one.
    await lea.waitForFunction((el) => el.complete && el.naturalWidth === 24, await mine.elementHandle());

    const got = hugo.getByRole('tabpanel', { name: 'MARTIN Léa' });
    const his = got.locator('.line-in').getByRole('img', { name: 'Image : sortie.png' });
    await his.waitFor();
    await hugo.waitForFunction((el) => el.complete && el.naturalWidth === 24, await his.elementHandle());
    assert.equal(await got.locator('.line-in .text').filter({ hasText: '/upload/' }).count(), 0, 'not shown as a URL');

    await shot(lea, 'upload');
    await checkA11y(lea, 'a conversation with a shared image');
    for (const page of [lea, hugo]) assert.deepEqual(page.errors, []);
  });
});
