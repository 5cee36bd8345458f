// Links in messages: http(s) and mailto only, the text kept whole.

import { describe, expect, it } from 'vitest';
import { MAX_LINK, type Piece, linkify, safeHref } from './linkify';

const links = (text: string) => linkify(text).filter((p): p is Piece & { href: string } => 'href' in p);
const joined = (text: string) => linkify(text).map((p) => p.text).join('');

describe('linkify', () => {
  it('http, https and mailto addresses become links, the rest stays text', () => {
    expect(linkify('Le devoir : https://ent.example.org/devoirs?id=3#q2 pour demain')).toEqual([
      { text: 'Le devoir : ' },
      { text: 'https://ent.example.org/devoirs?id=3#q2', href: 'https://ent.example.org/devoirs?id=3#q2' },
      { text: ' pour demain' },
    ]);
    expect(links('écris à mailto:anne.durand@college.example.org')).toEqual([
      { text: 'mailto:anne.durand@college.example.org', href: 'mailto:anne.durand@college.example.org' },
    ]);
    expect(links('HTTP://Example.ORG/A')).toEqual([{ text: 'HTTP://Example.ORG/A', href: 'http://example.org/A' }]);
    expect(linkify('pas de lien ici')).toEqual([{ text: 'pas de lien ici' }]);
  });

  it('the punctuation of the sentence is not part of the address', () => {
    expect(links('Va sur https://example.org/page.')[0].text).toBe('https://example.org/page');
    expect(links('(voir https://example.org/a)')[0].text).toBe('https://example.org/a');
    expect(links('https://fr.wikipedia.org/wiki/Paris_(France), voilà')[0].text).toBe(
      'https://fr.wikipedia.org/wiki/Paris_(France)',
    );
    expect(links('« https://example.org/x »')[0].text).toBe('https://example.org/x');
    expect(links('deux : http://a.example, https://b.example !').map((l) => l.text)).toEqual([
      'http://a.example',
      'https://b.example',
    ]);
  });

  it('hostile inputs: no other scheme, nothing that is not an address', () => {
    const hostile = [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(document.cookie)',
      'javascript://example.org/%0aalert(1)',
      'java\u0000script:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.org/',
      '//evil.example/',
      'https:\\\\evil.example',
      'http://',
      'https:///',
      'mailto:',
      'mailto:javascript:alert(1)',
      'mailto:a@b.example,c@d.example',
      'xhttps://example.org',
      'https://user:pass@example.org/',
      `https://example.org/${'a'.repeat(MAX_LINK)}`,
    ];
    for (const text of hostile) {
      expect([text, links(text)]).toEqual([text, []]);
      expect(joined(text)).toBe(text);
    }
  });

  it('an address cut at what could break out of an attribute or a tag', () => {
    expect(links('http://example.org/"onmouseover="alert(1)')).toEqual([
      { text: 'http://example.org/', href: 'http://example.org/' },
    ]);
    expect(links("https://example.org/'><script>alert(1)</script>")).toEqual([
      { text: 'https://example.org/', href: 'https://example.org/' },
    ]);
    expect(links('<a href="javascript:alert(1)">https://example.org</a>')).toEqual([
      { text: 'https://example.org', href: 'https://example.org/' },
    ]);
    // What comes after a scheme that is not ours, e.g. javascript:http://…, is only ever http.
    for (const l of links('javascript:http://example.org/%0aalert(1) data:https://x.example javascript:alert(1)//http://x')) {
      expect(l.href).toMatch(/^https?:\/\//);
    }
  });

  it('safeHref: only http(s) with a host, and mailto with an address', () => {
    expect(safeHref('https://example.org')).toBe('https://example.org/');
    expect(safeHref('mailto:lea@example.org?subject=Sortie')).toBe('mailto:lea@example.org?subject=Sortie');
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('data:,x')).toBeUndefined();
    expect(safeHref('blob:https://example.org/1')).toBeUndefined();
  });

  it('the text, whatever it is, is kept whole', () => {
    for (const text of ['', 'a', 'https://x.example.', '<b>gras</b> https://x.example <i>', '🙂 https://x.example/🙂 🎉']) {
      expect(joined(text)).toBe(text);
    }
  });
});
