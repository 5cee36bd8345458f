// XEP-0363 HTTP File Upload and XEP-0066 out-of-band URLs: pure builders and
// parsers (unit-tested in upload.test.ts), and what the client accepts to
// send and to show. No connection, no state, no UI text.

import { NS, child, children, el, iq } from './stanzas';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';
export const NS_OOB = 'jabber:x:oob';

/** Types shown as an image in the conversation (the server serves only these inline). */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
/** Types the paperclip offers (the server may refuse more, per structure). */
export const SENDABLE_TYPES = [...IMAGE_TYPES, 'application/pdf'];

export const discoItems = (to: string) => iq('get', { to }, el('query', { xmlns: NS.DISCO_ITEMS }));
export const discoInfo = (to: string) => iq('get', { to }, el('query', { xmlns: NS.DISCO_INFO }));

/** The upload service's limits from its disco#info, if it is one. */
export function parseUploadInfo(result: Element): { maxBytes?: number } | undefined {
  const q = child(result, 'query', NS.DISCO_INFO);
  if (!children(q, 'feature').some((f) => f.getAttribute('var') === NS_UPLOAD)) return undefined;
  for (const x of children(q, 'x', NS.DATA)) {
    const fields = children(x, 'field');
    const type = fields.find((f) => f.getAttribute('var') === 'FORM_TYPE');
    if (child(type, 'value')?.textContent !== NS_UPLOAD) continue;
    const max = Number(child(fields.find((f) => f.getAttribute('var') === 'max-file-size'), 'value')?.textContent);
    return Number.isSafeInteger(max) && max > 0 ? { maxBytes: max } : {};
  }
  return {};
}

/** A slot request (XEP-0363 §4). */
export const slotRequest = (service: string, filename: string, size: number, type: string) =>
  iq('get', { to: service }, el('request', { xmlns: NS_UPLOAD, filename, size: String(size), 'content-type': type }));

const httpUrl = (u: string | null | undefined) => (u && /^https?:\/\//i.test(u) ? u : undefined);

/** The slot's URLs (http or https only), and the headers the PUT must carry. */
export function parseSlot(result: Element): { put: string; get: string; headers: Record<string, string> } | undefined {
  const slot = child(result, 'slot', NS_UPLOAD);
  const put = child(slot, 'put');
  const putUrl = httpUrl(put?.getAttribute('url'));
  const getUrl = httpUrl(child(slot, 'get')?.getAttribute('url'));
  if (!putUrl || !getUrl) return undefined;
  const headers: Record<string, string> = {};
  for (const h of children(put, 'header')) {
    const name = h.getAttribute('name') ?? '';
    // XEP-0363 §4: only these may be given.
    if (/^(authorization|cookie|expires)$/i.test(name)) headers[name] = (h.textContent ?? '').replace(/[\r\n]/g, '');
  }
  return { put: putUrl, get: getUrl, headers };
}

/** A message sharing a file: its URL as the body and as an out-of-band URL (XEP-0066). */
export const fileMessage = (to: string, id: string, url: string) =>
  el('message', { to, type: 'chat', id }, el('body', {}, url), el('x', { xmlns: NS_OOB }, el('url', {}, url)));

/**
 * A file shared through this server's upload service, when a message's text
 * is only its URL (`BASE/upload/ID/NAME`): its name and whether it is an
 * image to preview. Other URLs are not files (no preview of anything else).
 */
export function sharedFile(text: string, base: string | undefined): { url: string; name: string; image: boolean } | undefined {
  if (!base) return undefined;
  const url = text.trim();
  const prefix = `${base.replace(/\/+$/, '')}/upload/`;
  if (!url.startsWith(prefix)) return undefined;
  const m = /^([0-9a-f]{32})\/([A-Za-z0-9._-]{1,64})$/.exec(url.slice(prefix.length));
  if (!m) return undefined;
  const name = m[2];
  return { url, name, image: /\.(jpe?g|png|webp|gif)$/i.test(name) };
}

/** Why a file may not be sent, checked before asking the server. */
export function checkFile(file: { size: number; type: string }, maxBytes: number | undefined): 'empty' | 'tooLarge' | 'badType' | undefined {
  if (file.size === 0) return 'empty';
  if (maxBytes !== undefined && file.size > maxBytes) return 'tooLarge';
  if (!SENDABLE_TYPES.includes(file.type)) return 'badType';
  return undefined;
}
