// The links of a message: `http://`, `https://` and `mailto:` addresses in a
// message's text become links; nothing else does (no `javascript:`, `data:`,
// `file:`…, whatever their spelling). Pure: the text is cut into pieces, and
// the screens put each piece into the page as a text node or as an <a> whose
// `href` is the address as the URL parser normalised it — never as HTML.

export type Piece = { text: string } | { text: string; href: string };

/** Addresses longer than this stay text. */
export const MAX_LINK = 2048;

// A scheme at the start of a word, then anything up to a space or a character
// that cannot be in an address as people type it.
const CANDIDATE = /(?<![\p{L}\p{N}+.-])(?:https?:\/\/|mailto:)[^\s<>"'`{}|\\^\u0000-\u001f\u007f]+/giu;

// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,;:!?»”’)\]]+$/u;

/** The address `candidate` points to, or undefined when it is not one we link. */
export function safeHref(candidate: string): string | undefined {
  if (candidate.length > MAX_LINK) return undefined;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (!url.hostname || url.username || url.password) return undefined;
    return url.href;
  }
  if (url.protocol === 'mailto:') {
    // mailto:someone@example.org, optionally with ?subject=…
    return /^[^@\s/?]+@[^@\s/?]+(\?.*)?$/u.test(url.pathname + url.search) ? url.href : undefined;
  }
  return undefined;
}

/** Cuts `text` into text and links; the pieces' texts, joined, are `text`. */
export function linkify(text: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of text.matchAll(CANDIDATE)) {
    let candidate = m[0];
    const start = m.index;
    // A closing bracket belongs to the address only when it opened one inside it.
    for (;;) {
      const trail = TRAILING.exec(candidate);
      if (!trail) break;
      const ch = candidate[candidate.length - 1];
      const open = ch === ')' ? '(' : ch === ']' ? '[' : undefined;
      if (open && count(candidate, open) >= count(candidate, ch)) break;
      candidate = candidate.slice(0, -1);
    }
    const href = safeHref(candidate);
    if (!href) continue;
    if (start > last) pieces.push({ text: text.slice(last, start) });
    pieces.push({ text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

const count = (s: string, ch: string) => s.split(ch).length - 1;
