// Stanzas: pure builders (plain DOM elements, which Strophe sends as they
// are) and parsers (of the elements Strophe hands over). No connection, no
// state, no UI text: unit-tested on their own (stanzas.test.ts).

export const NS = {
  CLIENT: 'jabber:client',
  ROSTER: 'jabber:iq:roster',
  CAUSERIE_ROSTER: 'urn:causerie:roster:0',
  CAUSERIE_DIRECTORY: 'urn:causerie:directory:0',
  SEARCH: 'jabber:iq:search',
  DATA: 'jabber:x:data',
  VCARD: 'vcard-temp',
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  DELAY: 'urn:xmpp:delay',
  MUC: 'http://jabber.org/protocol/muc',
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  MUC_UNIQUE: 'http://jabber.org/protocol/muc#unique',
  CONFERENCE: 'jabber:x:conference',
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  SID: 'urn:xmpp:sid:0',
  CARBONS: 'urn:xmpp:carbons:2',
  FORWARD: 'urn:xmpp:forward:0',
  MAM: 'urn:xmpp:mam:2',
  /** XEP-0424 retraction (and the archive's tombstone); XEP-0425 moderation. */
  RETRACT: 'urn:xmpp:message-retract:1',
  MODERATE: 'urn:xmpp:message-moderate:1',
  RSM: 'http://jabber.org/protocol/rsm',
  PRIVATE: 'jabber:iq:private',
  /** The client's data in private storage (XEP-0049), one element each. */
  CATEGORIES: 'urn:causerie:categories:0',
  ROOMS: 'urn:causerie:rooms:0',
  PREFS: 'urn:causerie:prefs:0',
  /** Quiet hours' notices from the server (docs/safety.md « Heures calmes »). */
  QUIET: 'urn:causerie:quiet:0',
  /** The school's policy: the kill switch's notices and refusals (« Coupure »). */
  POLICY: 'urn:causerie:policy:0',
} as const;

/** A notice of the server about quiet hours or the kill switch (a headline from the domain). */
export type SafetyNotice =
  | { kind: 'quiet'; state: 'on' | 'off' | 'held'; jid?: string; until?: string }
  | { kind: 'shutdown'; mode: string; text?: string };

/** Reads a server's safety notice (`from`: our domain), if the message is one. */
export function parseSafetyNotice(stanza: Element): SafetyNotice | undefined {
  const quiet = child(stanza, 'quiet', NS.QUIET);
  if (quiet) {
    const state = quiet.getAttribute('state');
    if (state !== 'on' && state !== 'off' && state !== 'held') return undefined;
    return {
      kind: 'quiet',
      state,
      jid: quiet.getAttribute('jid') ? bareJid(quiet.getAttribute('jid') ?? '') : undefined,
      until: quiet.getAttribute('until-local') ?? undefined,
    };
  }
  const shutdown = child(stanza, 'shutdown', NS.POLICY);
  if (shutdown) {
    return {
      kind: 'shutdown',
      mode: shutdown.getAttribute('mode') ?? 'normal',
      text: shutdown.textContent?.trim() || undefined,
    };
  }
  return undefined;
}

export type Show = 'available' | 'away' | 'dnd';
export type Subscription = 'none' | 'to' | 'from' | 'both';

// ------------------------------------------------------------------ JIDs
export function bareJid(jid: string): string {
  return jid.split('/')[0].toLowerCase();
}

export function resourceOf(jid: string): string {
  const i = jid.indexOf('/');
  return i < 0 ? '' : jid.slice(i + 1);
}

// -------------------------------------------------------------- building
type Attrs = Record<string, string | undefined>;
type Child = Element | string | null | undefined | false;

let xmlDoc: XMLDocument | undefined;

/**
 * An element with its attributes (`xmlns` as a plain attribute, as Strophe's
 * own builder does) and children (elements or text).
 */
export function el(name: string, attrs: Attrs = {}, ...kids: Child[]): Element {
  xmlDoc ??= document.implementation.createDocument(NS.CLIENT, 'strophe', null);
  const e = xmlDoc.createElement(name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const k of kids) {
    if (k === null || k === undefined || k === false || k === '') continue;
    e.appendChild(typeof k === 'string' ? xmlDoc.createTextNode(k) : k);
  }
  return e;
}

export const iq = (type: 'get' | 'set' | 'result', attrs: Attrs, ...kids: Child[]) =>
  el('iq', { type, ...attrs }, ...kids);

export const iqResult = (id: string) => iq('result', { id });

export const rosterGet = () => iq('get', {}, el('query', { xmlns: NS.ROSTER }));

export function rosterSet(item: { jid: string; name?: string; groups: string[] }): Element {
  return iq(
    'set',
    {},
    el(
      'query',
      { xmlns: NS.ROSTER },
      el('item', { jid: item.jid, name: item.name || undefined }, ...item.groups.map((g) => el('group', {}, g))),
    ),
  );
}

export const rosterRemove = (jid: string) =>
  iq('set', {}, el('query', { xmlns: NS.ROSTER }, el('item', { jid, subscription: 'remove' })));

/** XEP-0377's reasons (and Causerie's « autre »). */
export type ReportReason = 'abuse' | 'spam' | 'other';
const REPORT_REASONS: Record<ReportReason, string> = {
  abuse: 'urn:xmpp:reporting:abuse',
  spam: 'urn:xmpp:reporting:spam',
  other: 'urn:causerie:reporting:other',
};

/**
 * A report without blocking (XEP-0377's payload on its own, docs/safety.md):
 * the person (or room) reported, why, an optional text, the reported
 * messages' stanza-ids.
 */
export function reportIq(jid: string, reason: ReportReason, text: string, stanzaIds: string[] = []): Element {
  return iq(
    'set',
    {},
    el(
      'report',
      { xmlns: 'urn:xmpp:reporting:1', jid, reason: REPORT_REASONS[reason] },
      ...stanzaIds.map((id) => el('stanza-id', { xmlns: NS.SID, by: jid, id })),
      text.trim() ? el('text', {}, text.trim()) : null,
    ),
  );
}

export const carbonsEnable = () => iq('set', {}, el('enable', { xmlns: NS.CARBONS }));

/** XEP-0055 on the directory's search service, the free-text field. */
export function searchIq(service: string, text: string): Element {
  return iq(
    'set',
    { to: service },
    el(
      'query',
      { xmlns: NS.SEARCH },
      el(
        'x',
        { xmlns: NS.DATA, type: 'submit' },
        el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.SEARCH)),
        el('field', { var: 'search' }, el('value', {}, text)),
      ),
    ),
  );
}

export const vcardGet = (jid: string) => iq('get', { to: jid }, el('vCard', { xmlns: NS.VCARD }));

/** Our presence (to the server, or into a room with `to`). */
export function presence(show: Show, opts: { to?: string; priority?: number } = {}): Element {
  return el(
    'presence',
    { to: opts.to },
    show !== 'available' && el('show', {}, show),
    opts.priority !== undefined && el('priority', {}, String(opts.priority)),
  );
}

export type PresenceType = 'subscribe' | 'subscribed' | 'unsubscribed' | 'unavailable';
export const presenceOfType = (type: PresenceType, to?: string) => el('presence', { to, type });

/** A 1:1 message; its id is also its XEP-0359 origin-id, which the archive keeps. */
export const chatMessage = (to: string, id: string, body: string) =>
  el('message', { to, type: 'chat', id }, el('body', {}, body), el('origin-id', { xmlns: NS.SID, id }));

export const groupchatMessage = (room: string, id: string, body: string) =>
  el('message', { to: room, type: 'groupchat', id }, el('body', {}, body));

/** Joining a room as `nick`, asking for its last `history` messages. */
export function joinRoom(room: string, nick: string, show: Show, history: number): Element {
  return el(
    'presence',
    { to: `${room}/${nick}` },
    el('x', { xmlns: NS.MUC }, el('history', { maxstanzas: String(history) })),
    show !== 'available' && el('show', {}, show),
  );
}

export const leaveRoom = (room: string, nick: string) => presenceOfType('unavailable', `${room}/${nick}`);

/** XEP-0307: a unique room name from the service. */
export const uniqueRoomName = (service: string) => iq('get', { to: service }, el('unique', { xmlns: NS.MUC_UNIQUE }));

/** The room's configuration form with its name (the rest as the server's defaults). */
export function roomConfig(room: string, title: string): Element {
  return iq(
    'set',
    { to: room },
    el(
      'query',
      { xmlns: NS.MUC_OWNER },
      el(
        'x',
        { xmlns: NS.DATA, type: 'submit' },
        el('field', { var: 'FORM_TYPE' }, el('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
        el('field', { var: 'muc#roomconfig_roomname' }, el('value', {}, title)),
      ),
    ),
  );
}

export const mediatedInvite = (room: string, id: string, to: string) =>
  el('message', { to: room, id }, el('x', { xmlns: NS.MUC_USER }, el('invite', { to })));

export const declineInvite = (room: string, to?: string) =>
  el('message', { to: room }, el('x', { xmlns: NS.MUC_USER }, el('decline', { to })));

/** Role `none` on a nickname: out of the room. */
export const kick = (room: string, nick: string) =>
  iq('set', { to: room }, el('query', { xmlns: NS.MUC_ADMIN }, el('item', { nick, role: 'none' })));

export const discoItems = (to: string) => iq('get', { to }, el('query', { xmlns: NS.DISCO_ITEMS }));
export const discoInfo = (to: string) => iq('get', { to }, el('query', { xmlns: NS.DISCO_INFO }));

/**
 * XEP-0313 paged by XEP-0059: the `max` messages before `before` (the last
 * ones without it). `to`: a room, or undefined for one's own archive, where
 * `withJid` keeps the conversation with one contact.
 */
export function mamBefore(
  to: string | undefined,
  queryid: string,
  max: number,
  before?: string,
  withJid?: string,
): Element {
  return iq(
    'set',
    { to },
    el(
      'query',
      { xmlns: NS.MAM, queryid },
      withJid !== undefined &&
        el(
          'x',
          { xmlns: NS.DATA, type: 'submit' },
          el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.MAM)),
          el('field', { var: 'with' }, el('value', {}, withJid)),
        ),
      el('set', { xmlns: NS.RSM }, el('max', {}, String(max)), el('before', {}, before ?? '')),
    ),
  );
}

/** XEP-0049: reads one's element `name` in namespace `ns`. */
export const privateGet = (name: string, ns: string) =>
  iq('get', {}, el('query', { xmlns: NS.PRIVATE }, el(name, { xmlns: ns })));

/** XEP-0049: stores one's element (replacing the one of the same name and namespace). */
export const privateSet = (payload: Element) => iq('set', {}, el('query', { xmlns: NS.PRIVATE }, payload));

/** The categories, in their order, empty ones included: `<categories><category name/>…`. */
export const categoriesElement = (names: string[]) =>
  el('categories', { xmlns: NS.CATEGORIES }, ...names.map((name) => el('category', { name })));

/** The rooms open in the client, joined again at the next login. */
export const roomsElement = (rooms: { jid: string; title?: string }[]) =>
  el('rooms', { xmlns: NS.ROOMS }, ...rooms.map((r) => el('room', { jid: r.jid, title: r.title || undefined })));

/** The user's settings, as attributes. */
export const prefsElement = (prefs: Record<string, string | number | boolean | undefined>) =>
  el(
    'prefs',
    Object.fromEntries([
      ['xmlns', NS.PREFS],
      ...Object.entries(prefs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ]),
  );

// --------------------------------------------------------------- parsing
export function child(e: Element | null | undefined, name: string, ns?: string): Element | undefined {
  for (const c of Array.from(e?.children ?? [])) {
    if (c.localName === name && (ns === undefined || c.namespaceURI === ns)) return c;
  }
  return undefined;
}

export function children(e: Element | null | undefined, name: string, ns?: string): Element[] {
  return Array.from(e?.children ?? []).filter(
    (c) => c.localName === name && (ns === undefined || c.namespaceURI === ns),
  );
}

const langOf = (c: Element) => c.getAttribute('xml:lang') ?? c.getAttribute('lang') ?? '';

/** The `<body/>` in `lang` (the server's notices come in French and English); only the
 * message's own bodies (its namespace): a `<body/>` in another namespace is what no other
 * client shows, so a sender cannot show the school's client one text and others another. */
export function bodyOf(stanza: Element, lang: string): string | undefined {
  const bodies = children(stanza, 'body', stanza.namespaceURI ?? undefined);
  const pick =
    bodies.find((b) => langOf(b).startsWith(lang)) ??
    bodies.find((b) => langOf(b) === '') ??
    bodies.find((b) => langOf(b).startsWith('fr')) ??
    bodies[0];
  return pick?.textContent ?? undefined;
}

export function showOf(stanza: Element): Show {
  const show = child(stanza, 'show')?.textContent?.trim();
  return show === 'dnd' ? 'dnd' : show === 'away' || show === 'xa' ? 'away' : 'available';
}

export function priorityOf(stanza: Element): number {
  return Number(child(stanza, 'priority')?.textContent ?? 0) || 0;
}

/** XEP-0203: when the stanza was first sent. */
export function stampOf(stanza: Element | undefined): Date | undefined {
  const stamp = child(stanza, 'delay', NS.DELAY)?.getAttribute('stamp');
  const d = stamp ? new Date(stamp) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

export function statusCodes(x: Element | undefined): Set<number> {
  return new Set(children(x, 'status', NS.MUC_USER).map((s) => Number(s.getAttribute('code'))));
}

/** The `<text/>` of a stanza or SASL error, in `lang` when there (French otherwise). */
export function errorText(error: Element | undefined, lang: string): string | undefined {
  if (!error) return undefined;
  const texts = Array.from(error.children).filter((c) => c.localName === 'text');
  const pick =
    texts.find((c) => langOf(c).startsWith(lang)) ?? texts.find((c) => langOf(c).startsWith('fr')) ?? texts[0];
  return pick?.textContent?.trim() || undefined;
}

/** The condition of a stanza error (`forbidden`, `policy-violation`, ...). */
export function errorCondition(error: Element | undefined): string {
  if (!error) return 'undefined-condition';
  const c = Array.from(error.children).find((e) => e.namespaceURI === NS.STANZAS && e.localName !== 'text');
  return c?.localName ?? 'undefined-condition';
}

/** An error stanza: the server's text (in `lang`) and its condition. */
export function stanzaError(stanza: Element | null, lang: string): { text?: string; condition: string } {
  const error = stanza ? child(stanza, 'error') : undefined;
  return { text: errorText(error, lang), condition: errorCondition(error) };
}

/**
 * A SASL failure: `bad-credentials` for a wrong password, else the server's
 * reason (its texts are « French — English »).
 */
export function saslFailure(failure: Element, lang: string): { badCredentials: true } | { text: string } {
  if (failure.namespaceURI !== NS.SASL) return { badCredentials: true };
  if (child(failure, 'not-authorized') || child(failure, 'credentials-expired')) return { badCredentials: true };
  const text = errorText(failure, lang);
  if (!text) return { badCredentials: true };
  const [fr, en] = text.split(' — ');
  return { text: lang === 'en' && en ? en : fr };
}

export interface RosterItem {
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription | 'remove';
  ask: boolean;
  refused: boolean;
}

/** A roster `<item/>`; undefined for anything else. */
export function parseRosterItem(item: Element): RosterItem | undefined {
  if (item.localName !== 'item') return undefined;
  const jid = bareJid(item.getAttribute('jid') ?? '');
  if (!jid) return undefined;
  const sub = item.getAttribute('subscription') ?? 'none';
  const groups = children(item, 'group')
    .map((g) => g.textContent ?? '')
    .filter((g) => g);
  return {
    jid,
    name: item.getAttribute('name') || undefined,
    groups: [...new Set(groups)],
    subscription: (['none', 'to', 'from', 'both', 'remove'].includes(sub) ? sub : 'none') as RosterItem['subscription'],
    ask: item.getAttribute('ask') === 'subscribe',
    refused: !!child(item, 'refused', NS.CAUSERIE_ROSTER),
  };
}

/** The items of a roster result or push. */
export function parseRoster(stanza: Element): RosterItem[] {
  const query = child(stanza, 'query', NS.ROSTER);
  return Array.from(query?.children ?? [])
    .map(parseRosterItem)
    .filter((i): i is RosterItem => !!i);
}

export interface SearchHit {
  jid: string;
  name: string;
  profile: string;
  classes: string;
}

/** The rows of a XEP-0055 result (data form `<item/>`s), without `self`. */
export function parseSearch(result: Element, self: string): SearchHit[] {
  const x = child(child(result, 'query', NS.SEARCH) ?? result, 'x', NS.DATA);
  const hits: SearchHit[] = [];
  for (const item of children(x, 'item')) {
    const value = (v: string) =>
      child(
        children(item, 'field').find((f) => f.getAttribute('var') === v),
        'value',
      )?.textContent ?? '';
    const jid = bareJid(value('jid'));
    if (jid && jid !== self) {
      hits.push({ jid, name: value('name'), profile: value('profile'), classes: value('classes') });
    }
  }
  return hits;
}

/** The full name (FN) of a vCard result. */
export function parseVcardName(result: Element): string | undefined {
  const card = child(result, 'vCard', NS.VCARD);
  return (card && child(card, 'FN')?.textContent?.trim()) || undefined;
}

/**
 * The directory's profile of a card's owner (`student`, `relative`,
 * `teacher`, `personnel`, `guest`): Causerie's extension element, which the
 * server puts on a directory user's card beside vCard's `ROLE` (its label).
 */
export function parseVcardProfile(result: Element): string | undefined {
  const card = child(result, 'vCard', NS.VCARD);
  return child(card, 'profile', NS.CAUSERIE_DIRECTORY)?.textContent?.trim() || undefined;
}

/** The unique room name of a XEP-0307 answer, as a bare JID on `service`. */
export function parseUniqueRoom(result: Element, service: string): string | undefined {
  const unique = child(result, 'unique', NS.MUC_UNIQUE)?.textContent?.trim().toLowerCase();
  if (!unique) return undefined;
  return unique.includes('@') ? bareJid(unique) : `${unique}@${service}`;
}

/** The items of a disco#items answer. */
export function parseDiscoItems(result: Element): { jid: string; name: string }[] {
  return children(child(result, 'query'), 'item').map((i) => ({
    jid: bareJid(i.getAttribute('jid') ?? ''),
    name: i.getAttribute('name') ?? '',
  }));
}

/** The identity's name of a disco#info answer. */
export function parseDiscoName(result: Element): string | undefined {
  return child(child(result, 'query', NS.DISCO_INFO), 'identity')?.getAttribute('name') || undefined;
}

/** XEP-0425: the room's owner deletes message `stanzaId` (the room's stanza-id) for everyone. */
export function moderateIq(room: string, stanzaId: string): Element {
  return el(
    'iq',
    { type: 'set', to: room },
    el('moderate', { xmlns: NS.MODERATE, id: stanzaId }, el('retract', { xmlns: NS.RETRACT })),
  );
}

/**
 * The id of the message a moderator's retraction deletes (XEP-0425: `<retract
 * id/>` with `<moderated/>`), from a room or from our server.
 */
export function moderatedRetraction(stanza: Element): string | undefined {
  const retract = child(stanza, 'retract', NS.RETRACT);
  if (!retract || !child(retract, 'moderated', NS.MODERATE)) return undefined;
  return retract.getAttribute('id') || undefined;
}

/** Whether an archived message is a tombstone: deleted by the moderators (no text left). */
export function isTombstone(m: Element): boolean {
  return !!child(m, 'retracted', NS.RETRACT);
}

/**
 * One `<result/>` of a MAM query (a room's archive): a groupchat message with
 * a body, or the tombstone of one the moderators deleted (`retracted`, no body).
 */
export function parseArchived(
  result: Element,
  lang: string,
): { id: string; nick: string; body: string; time?: Date; retracted?: boolean } | undefined {
  const id = result.getAttribute('id');
  const forwarded = child(result, 'forwarded', NS.FORWARD);
  const m = child(forwarded, 'message');
  if (!id || !m || m.getAttribute('type') !== 'groupchat') return undefined;
  const nick = resourceOf(m.getAttribute('from') ?? '');
  if (isTombstone(m)) return { id, nick, body: '', time: stampOf(forwarded), retracted: true };
  const body = bodyOf(m, lang);
  if (body === undefined) return undefined;
  return { id, nick, body, time: stampOf(forwarded) };
}

/** One message of one's own archive (a 1:1 conversation): who wrote it, with whom. */
export interface ArchivedChat {
  /** The archive's id: the stanza-id the recipient's copy carried. */
  id: string;
  /** The sender's XEP-0359 origin-id, or the message's id. */
  originId?: string;
  /** Written by us (from one of our resources). */
  out: boolean;
  /** The other party's bare JID. */
  peer: string;
  body: string;
  time?: Date;
  /** Deleted by the school's moderators: a tombstone, no text. */
  retracted?: boolean;
}

/** One `<result/>` of a query of one's own archive (`self`: our bare JID). */
export function parseArchivedChat(result: Element, self: string, lang: string): ArchivedChat | undefined {
  const id = result.getAttribute('id');
  const forwarded = child(result, 'forwarded', NS.FORWARD);
  const m = child(forwarded, 'message');
  if (!id || !m) return undefined;
  const type = m.getAttribute('type') ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return undefined;
  const retracted = isTombstone(m);
  const body = retracted ? '' : bodyOf(m, lang);
  if (body === undefined) return undefined;
  const from = bareJid(m.getAttribute('from') ?? '');
  const to = bareJid(m.getAttribute('to') ?? '');
  const out = from === self;
  const peer = out ? to : from;
  if (!peer) return undefined;
  return {
    id,
    originId: originIdOf(m),
    out,
    peer,
    body,
    time: stampOf(forwarded),
    ...(retracted ? { retracted } : {}),
  };
}

/** The XEP-0359 origin-id of a message, else its id attribute. */
export function originIdOf(m: Element): string | undefined {
  return child(m, 'origin-id', NS.SID)?.getAttribute('id') || m.getAttribute('id') || undefined;
}

/** Whether the `<fin/>` of a MAM answer says the archive has nothing older. */
export const mamComplete = (result: Element) => child(result, 'fin', NS.MAM)?.getAttribute('complete') === 'true';

/** XEP-0280: the forwarded message of a carbon, and which way it went. */
export function parseCarbon(stanza: Element): { direction: 'sent' | 'received'; message: Element } | undefined {
  const sent = child(stanza, 'sent', NS.CARBONS);
  const received = child(stanza, 'received', NS.CARBONS);
  const message = child(child(sent ?? received, 'forwarded', NS.FORWARD), 'message');
  if (!message) return undefined;
  return { direction: sent ? 'sent' : 'received', message };
}

/**
 * The stanza-id (XEP-0359) `by` an archive: a room's on a groupchat message,
 * our own bare JID's on a 1:1 message (the id our archive holds it under).
 */
export function stanzaIdBy(stanza: Element, by: string): string | undefined {
  return (
    children(stanza, 'stanza-id', NS.SID)
      .find((s) => bareJid(s.getAttribute('by') ?? '') === by)
      ?.getAttribute('id') ?? undefined
  );
}

export const roomStanzaId = stanzaIdBy;

/** Longest category name kept (the server's limit for a roster group is longer). */
export const MAX_CATEGORY = 100;
/** Most categories kept. */
export const MAX_CATEGORIES = 64;

/** The categories of private storage: names, trimmed, without duplicates, bounded. */
export function parseCategories(result: Element): string[] {
  const list = child(child(result, 'query', NS.PRIVATE), 'categories', NS.CATEGORIES);
  const names: string[] = [];
  for (const c of children(list, 'category', NS.CATEGORIES)) {
    const name = (c.getAttribute('name') ?? '').trim().replace(/\s+/g, ' ');
    if (name && name.length <= MAX_CATEGORY && !names.includes(name)) names.push(name);
    if (names.length >= MAX_CATEGORIES) break;
  }
  return names;
}

/** The rooms of private storage (any JID: the caller keeps its service's only). */
export function parseRooms(result: Element): { jid: string; title?: string }[] {
  const list = child(child(result, 'query', NS.PRIVATE), 'rooms', NS.ROOMS);
  return children(list, 'room', NS.ROOMS)
    .map((r) => ({ jid: bareJid(r.getAttribute('jid') ?? ''), title: r.getAttribute('title')?.slice(0, 200) || undefined }))
    .filter((r) => r.jid !== '')
    .slice(0, 100);
}

/** The settings' attributes of private storage, as strings (the caller checks them). */
export function parsePrefs(result: Element): Record<string, string> {
  const prefs = child(child(result, 'query', NS.PRIVATE), 'prefs', NS.PREFS);
  const out: Record<string, string> = {};
  for (const a of Array.from(prefs?.attributes ?? [])) {
    if (a.name !== 'xmlns' && !a.name.includes(':')) out[a.name] = a.value;
  }
  return out;
}
