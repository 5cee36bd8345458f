// Unit tests of the XEP-0363 / XEP-0066 builders and parsers (vitest, jsdom).

import { Strophe } from 'strophe.js';
import { describe, expect, it } from 'vitest';
import * as U from './upload';

function parse(xml: string): Element {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return doc.documentElement;
}

const BASE = 'http://localhost:5280';
const ID = '0123456789abcdef0123456789abcdef';

describe('upload service', () => {
  it('reads the largest file of the service, and nothing of another service', () => {
    const info = parse(
      `<iq xmlns="jabber:client" type="result"><query xmlns="http://jabber.org/protocol/disco#info">
        <identity category="store" type="file"/><feature var="urn:xmpp:http:upload:0"/>
        <x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:http:upload:0</value></field>
        <field var="max-file-size"><value>5000</value></field></x></query></iq>`,
    );
    expect(U.parseUploadInfo(info)).toEqual({ maxBytes: 5000 });
    const other = parse(
      `<iq xmlns="jabber:client" type="result"><query xmlns="http://jabber.org/protocol/disco#info">
        <feature var="jabber:iq:search"/></query></iq>`,
    );
    expect(U.parseUploadInfo(other)).toBeUndefined();
  });

  it('builds a slot request and a file message', () => {
    expect(Strophe.serialize(U.slotRequest('upload.localhost', 'a "b".png', 12, 'image/png'))).toBe(
      '<iq to="upload.localhost" type="get"><request content-type="image/png" filename="a &quot;b&quot;.png" size="12" xmlns="urn:xmpp:http:upload:0"/></iq>',
    );
    expect(Strophe.serialize(U.fileMessage('hugo@localhost', 'm1', `${BASE}/upload/${ID}/a.png`))).toBe(
      `<message id="m1" to="hugo@localhost" type="chat"><body>${BASE}/upload/${ID}/a.png</body>` +
        `<x xmlns="jabber:x:oob"><url>${BASE}/upload/${ID}/a.png</url></x></message>`,
    );
  });

  it('reads a slot, http(s) only, and only the allowed headers', () => {
    const slot = (put: string) =>
      parse(
        `<iq xmlns="jabber:client" type="result"><slot xmlns="urn:xmpp:http:upload:0">
          <put url="${put}"><header name="Authorization">Basic x</header><header name="Host">evil</header></put>
          <get url="${BASE}/upload/${ID}/a.png"/></slot></iq>`,
      );
    expect(U.parseSlot(slot(`${BASE}/upload/${ID}/a.png?sig=1`))).toEqual({
      put: `${BASE}/upload/${ID}/a.png?sig=1`,
      get: `${BASE}/upload/${ID}/a.png`,
      headers: { Authorization: 'Basic x' },
    });
    expect(U.parseSlot(slot('javascript:alert(1)'))).toBeUndefined();
  });
});

describe('shared files in messages', () => {
  it('recognises only this server’s files', () => {
    expect(U.sharedFile(`${BASE}/upload/${ID}/photo.PNG`, BASE)).toEqual({
      url: `${BASE}/upload/${ID}/photo.PNG`,
      name: 'photo.PNG',
      image: true,
    });
    expect(U.sharedFile(`${BASE}/upload/${ID}/devoir.pdf`, `${BASE}/`)?.image).toBe(false);
    expect(U.sharedFile(`https://evil.example/upload/${ID}/a.png`, BASE)).toBeUndefined();
    expect(U.sharedFile(`${BASE}/upload/${ID}/a.png extra`, BASE)).toBeUndefined();
    expect(U.sharedFile(`${BASE}/upload/../x/a.png`, BASE)).toBeUndefined();
    expect(U.sharedFile(`${BASE}/upload/${ID}/a.png`, undefined)).toBeUndefined();
  });

  it('checks size and type before sending', () => {
    expect(U.checkFile({ size: 10, type: 'image/png' }, 100)).toBeUndefined();
    expect(U.checkFile({ size: 101, type: 'image/png' }, 100)).toBe('tooLarge');
    expect(U.checkFile({ size: 0, type: 'image/png' }, 100)).toBe('empty');
    expect(U.checkFile({ size: 10, type: 'text/html' }, 100)).toBe('badType');
    expect(U.checkFile({ size: 10, type: 'image/svg+xml' }, 100)).toBe('badType');
  });
});
