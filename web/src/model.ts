// The client's state and its XMPP side (Strophe over WebSocket, RFC 7395).
//
// One `Model` holds everything the screens show: the account, its contacts
// (the roster, whose groups are the seed's categories), their presence, the
// contact requests received (« Mes demandes »), the open conversations and
// the information messages. Screens read it and call its actions; every
// change calls `changed()`, which re-renders them.
//
// How the seed maps onto XMPP (RFC 6121):
// - « Ajouter contacts »: roster set (name, category as group), then
//   presence `subscribe`; the item shows « Invitation en attente » while `ask`.
// - « Accepter »: `subscribed`, then `subscribe` back; the requester's client
//   approves that request by itself, since it asked first, so both end up
//   with a mutual subscription and see each other's state.
// - « Refuser »: `unsubscribed`; the server marks the requester's item with
//   `<refused xmlns='urn:causerie:roster:0'/>` (« Invitation refusée »).
// - « Supprimer contact »: roster remove; the server removes us from the
//   contact's roster too (the school's symmetric deletion).
// - Categories are roster groups, so an empty category cannot be stored on
//   the server: one created but still empty is kept in this browser
//   (localStorage) until a contact is added to it.
//
// Conversations with several people are rooms (XEP-0045) on
// conference.DOMAIN (see the room section below); a message sent from another
// resource of the account comes back as a carbon (XEP-0280). The server keeps
// no archive of 1:1 messages, so their history is kept in this browser
// (localStorage, per account and contact); rooms' history comes from the
// room on joining.

import { $iq, $msg, $pres, Strophe } from 'strophe.js';
import { lang, t } from './i18n';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_CAUSERIE_ROSTER = 'urn:causerie:roster:0';
const NS_SEARCH = 'jabber:iq:search';
const NS_DATA = 'jabber:x:data';
const NS_VCARD = 'vcard-temp';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_DELAY = 'urn:xmpp:delay';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_MUC_UNIQUE = 'http://jabber.org/protocol/muc#unique';
const NS_CONFERENCE = 'jabber:x:conference';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_SID = 'urn:xmpp:sid:0';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_RSM = 'http://jabber.org/protocol/rsm';

/** Lines of a 1:1 conversation kept in the browser, per contact. */
const HISTORY_LINES = 200;
/** Messages a room sends on joining (its history). */
const ROOM_HISTORY = 50;

export type Show = 'available' | 'away' | 'dnd';
export type ContactState = Show | 'offline';
type Subscription = 'none' | 'to' | 'from' | 'both';

export interface Contact {
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  ask: boolean;
  refused: boolean;
}

export interface SearchHit {
  jid: string;
  name: string;
  profile: string;
  classes: string;
}

export interface Line {
  id: string;
  kind: 'in' | 'out' | 'error' | 'event';
  text: string;
  time: Date;
  /** In a room: the nickname (« NOM Prénom ») of who wrote it. */
  who?: string;
}

/** Someone in a room, by nickname (the directory's « NOM Prénom »). */
export interface Occupant {
  nick: string;
  jid?: string;
  show: Show;
  affiliation: string;
  role: string;
}

export type RoomState = 'joining' | 'joined' | 'left' | 'removed';

export interface Conversation {
  jid: string;
  kind: 'chat' | 'room';
  lines: Line[];
  unread: number;
  draft: string;
  // Rooms only:
  title?: string;
  nick?: string;
  affiliation?: string;
  state?: RoomState;
  occupants?: Map<string, Occupant>;
  /** The room's stanza-ids already shown (history comes again on every join). */
  seen?: Set<string>;
  /** A room being made: its name, and whom to invite once it is unlocked. */
  creating?: { title: string; invite: string[] };
  /** The room's archive has nothing older than what is shown. */
  historyComplete?: boolean;
  loadingOlder?: boolean;
  /** While joining: how many messages of its history the room sent. */
  joinHistory?: number;
}

/** An invitation to a room (« Mes demandes »). */
export interface RoomInvite {
  room: string;
  from: string;
  text: string;
  reason?: string;
}

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

export type Status = 'signed-out' | 'connecting' | 'online' | 'reconnecting';

/** The failure of an action, with a text fit for the user. */
export class ActionError extends Error {}

export function bareJid(jid: string): string {
  return jid.split('/')[0].toLowerCase();
}

export function resourceOf(jid: string): string {
  const i = jid.indexOf('/');
  return i < 0 ? '' : jid.slice(i + 1);
}

function child(el: Element | undefined, name: string, ns?: string): Element | undefined {
  for (const c of Array.from(el?.children ?? [])) {
    if (c.localName === name && (ns === undefined || c.namespaceURI === ns)) return c;
  }
  return undefined;
}

function children(el: Element | undefined, name: string, ns?: string): Element[] {
  return Array.from(el?.children ?? []).filter(
    (c) => c.localName === name && (ns === undefined || c.namespaceURI === ns),
  );
}

/** The `<body/>` in the user's language (the server's notices come in French and English). */
function bodyOf(stanza: Element): string | undefined {
  const bodies = children(stanza, 'body');
  const langOf = (c: Element) => c.getAttribute('xml:lang') ?? c.getAttribute('lang') ?? '';
  const pick =
    bodies.find((b) => langOf(b).startsWith(lang)) ??
    bodies.find((b) => langOf(b) === '') ??
    bodies.find((b) => langOf(b).startsWith('fr')) ??
    bodies[0];
  return pick?.textContent ?? undefined;
}

function showOf(stanza: Element): Show {
  const show = child(stanza, 'show')?.textContent?.trim();
  return show === 'dnd' ? 'dnd' : show === 'away' || show === 'xa' ? 'away' : 'available';
}

function stampOf(stanza: Element): Date | undefined {
  const stamp = child(stanza, 'delay', NS_DELAY)?.getAttribute('stamp');
  const d = stamp ? new Date(stamp) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

function statusCodes(x: Element | undefined): Set<number> {
  return new Set(children(x, 'status', NS_MUC_USER).map((s) => Number(s.getAttribute('code'))));
}

/** The `<text/>` of a stanza or SASL error, in the user's language when there. */
export function errorText(error: Element | undefined): string | undefined {
  if (!error) return undefined;
  const texts = Array.from(error.children).filter((c) => c.localName === 'text');
  const langOf = (c: Element) => c.getAttribute('xml:lang') ?? c.getAttribute('lang') ?? '';
  const pick =
    texts.find((c) => langOf(c).startsWith(lang)) ??
    texts.find((c) => langOf(c).startsWith('fr')) ??
    texts[0];
  return pick?.textContent?.trim() || undefined;
}

/** The condition of a stanza error (`forbidden`, `policy-violation`, ...). */
function errorCondition(error: Element | undefined): string {
  if (!error) return 'undefined-condition';
  const c = Array.from(error.children).find(
    (e) => e.namespaceURI === NS_STANZAS && e.localName !== 'text',
  );
  return c?.localName ?? 'undefined-condition';
}

/** What to tell the user about an error stanza. */
export function describeError(stanza: Element | null): string {
  const error = stanza ? child(stanza, 'error') : undefined;
  const text = errorText(error);
  if (text) return text;
  const condition = errorCondition(error);
  if (condition === 'forbidden' || condition === 'policy-violation') return t('rulesRefusal');
  return t('actionFailed', { condition });
}

Strophe.setLogLevel(Strophe.LogLevel.WARN);

const collator = new Intl.Collator(lang, { sensitivity: 'base' });
export const byName = (a: string, b: string) => collator.compare(a, b);

let lineCounter = 0;
const newId = () => `l${Date.now().toString(36)}${(lineCounter++).toString(36)}`;

export interface ClientConfig {
  domain: string;
  websocket: string;
}

export class Model {
  status: Status = 'signed-out';
  loginError?: string;
  config: ClientConfig;

  jid = '';
  bare = '';
  myName = '';
  myShow: Show = 'available';

  contacts = new Map<string, Contact>();
  /** Full names from vCards (« NOM Prénom »), by bare JID. */
  names = new Map<string, string>();
  /** Presence per bare JID, then per resource. */
  presence = new Map<string, Map<string, { show: Show; priority: number }>>();
  /** Contact requests received, oldest first. */
  requests: string[] = [];
  /** Invitations to rooms received, oldest first. */
  roomInvites: RoomInvite[] = [];
  /** Categories created here that have no contact yet. */
  localCategories: string[] = [];
  conversations: Conversation[] = [];
  activeConversation?: string;
  notices: Notice[] = [];

  private conn?: InstanceType<typeof Strophe.Connection>;
  private password = '';
  private wanted = false;
  private reconnectTimer?: number;
  private reconnectDelay = 1000;
  private noticeCounter = 0;
  private vcardAsked = new Set<string>();
  /** Categories being deleted on purpose: their emptying is not announced. */
  private deleting = new Set<string>();
  /** Invitations sent, by stanza id: the room and whom (for a refusal's message). */
  private invitesSent = new Map<string, { room: string; jid: string }>();
  /** The archived messages of a room's MAM query under way, by query id. */
  private mamResults = new Map<string, Element[]>();
  private listeners = new Set<() => void>();

  constructor(config: ClientConfig) {
    this.config = config;
  }

  // ------------------------------------------------------------ observation
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const l of this.listeners) l();
  }

  // ---------------------------------------------------------------- derived
  displayName(jid: string): string {
    const bare = bareJid(jid);
    if (bare === this.bare && this.myName) return this.myName;
    return this.contacts.get(bare)?.name || this.names.get(bare) || bare.split('@')[0];
  }

  stateOf(jid: string): ContactState {
    const resources = this.presence.get(bareJid(jid));
    if (!resources || resources.size === 0) return 'offline';
    const rank: Record<Show, number> = { available: 3, away: 2, dnd: 1 };
    let best: { show: Show; priority: number } | undefined;
    for (const r of resources.values()) {
      if (
        !best ||
        r.priority > best.priority ||
        (r.priority === best.priority && rank[r.show] > rank[best.show])
      ) {
        best = r;
      }
    }
    return best?.show ?? 'offline';
  }

  /** Every category (roster groups and local ones), sorted. */
  categories(): string[] {
    const names = new Set<string>(this.localCategories);
    for (const c of this.contacts.values()) for (const g of c.groups) names.add(g);
    return [...names].sort(byName);
  }

  contactsIn(category: string | null): Contact[] {
    const list = [...this.contacts.values()].filter((c) =>
      category === null ? c.groups.length === 0 : c.groups.includes(category),
    );
    return list.sort((a, b) => byName(this.displayName(a.jid), this.displayName(b.jid)));
  }

  private groupCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.contacts.values()) {
      for (const g of c.groups) counts.set(g, (counts.get(g) ?? 0) + 1);
    }
    return counts;
  }

  // -------------------------------------------------------------- notices
  /** Shows an information message; a `transient` one goes away by itself after a while. */
  notify(text: string, kind: Notice['kind'] = 'info', transient = false): void {
    const id = ++this.noticeCounter;
    this.notices = [...this.notices, { id, kind, text }].slice(-5);
    if (transient) window.setTimeout(() => this.dismiss(id), 8000);
    this.changed();
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }

  // ------------------------------------------------------------ connection
  /** Signs in; resolves when online, rejects with a French text otherwise. */
  login(identifier: string, password: string): Promise<void> {
    const id = identifier.trim();
    const jid = id.includes('@') ? id : `${id}@${this.config.domain}`;
    if (!window.isSecureContext) {
      // No SCRAM without WebCrypto, and the server offers PLAIN on confidential channels only.
      this.loginError = t('loginSecureContext');
      this.changed();
      return Promise.reject(new ActionError(this.loginError));
    }
    this.password = password;
    this.wanted = true;
    this.status = 'connecting';
    this.loginError = undefined;
    this.changed();
    return new Promise((resolve, reject) => {
      this.connect(jid, (ok, error) => {
        if (ok) {
          resolve();
        } else {
          this.wanted = false;
          this.password = '';
          this.status = 'signed-out';
          this.loginError = error;
          this.changed();
          reject(new ActionError(error));
        }
      });
    });
  }

  private websocketUrl(): string {
    const ws = this.config.websocket;
    if (/^wss?:/.test(ws)) return ws;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${ws.startsWith('/') ? ws : `/${ws}`}`;
  }

  private connect(
    jid: string,
    done?: (ok: boolean, error?: string, authFailed?: boolean) => void,
  ): void {
    const conn = new Strophe.Connection(this.websocketUrl(), {});
    this.conn = conn;
    let online = false;
    const resource = `web-${Math.random().toString(36).slice(2, 8)}`;
    conn.connect(`${bareJid(jid)}/${resource}`, this.password, (status, _condition, elem) => {
      if (this.conn !== conn) return;
      switch (status) {
        case Strophe.Status.CONNECTED:
          online = true;
          this.reconnectDelay = 1000;
          this.online(conn);
          done?.(true);
          done = undefined;
          break;
        case Strophe.Status.AUTHFAIL: {
          const text = elem ? this.saslFailureText(elem) : t('loginBadCredentials');
          const report = done;
          done = undefined;
          this.conn = undefined;
          conn.disconnect('authentication failed');
          report?.(false, text, true);
          break;
        }
        case Strophe.Status.CONNFAIL:
        case Strophe.Status.CONNTIMEOUT:
        case Strophe.Status.DISCONNECTED:
          if (!online && done) {
            done(false, t('loginUnreachable'));
            done = undefined;
          } else if (online || status === Strophe.Status.DISCONNECTED) {
            this.lost(conn);
          }
          break;
        default:
          break;
      }
    });
  }

  private saslFailureText(failure: Element): string {
    if (failure.namespaceURI !== NS_SASL) return t('loginBadCredentials');
    if (child(failure, 'not-authorized') || child(failure, 'credentials-expired')) {
      return t('loginBadCredentials');
    }
    // The server's texts are « French — English ».
    const text = errorText(failure);
    if (text) {
      const [fr, en] = text.split(' — ');
      return lang === 'en' && en ? en : fr;
    }
    return t('loginBadCredentials');
  }

  /** The connection dropped: keep everything on screen and reconnect. */
  private lost(conn: InstanceType<typeof Strophe.Connection>): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.presence.clear();
    if (!this.wanted) return;
    this.status = 'reconnecting';
    this.changed();
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = window.setTimeout(() => {
      if (!this.wanted) return;
      this.connect(this.jid, (ok, error, authFailed) => {
        if (ok) return;
        if (authFailed) {
          // The password changed, or the account was closed, meanwhile.
          this.logout();
          this.loginError = error;
          this.changed();
        } else if (this.conn) {
          this.lost(this.conn);
        }
      });
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30000);
  }

  logout(): void {
    this.wanted = false;
    window.clearTimeout(this.reconnectTimer);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      try {
        conn.send($pres({ type: 'unavailable' }));
        conn.flush();
        conn.disconnect('logout');
      } catch {
        // The connection is going away anyway.
      }
    }
    this.status = 'signed-out';
    this.loginError = undefined;
    this.jid = this.bare = this.myName = this.password = '';
    this.myShow = 'available';
    this.contacts = new Map();
    this.names = new Map();
    this.presence = new Map();
    this.requests = [];
    this.roomInvites = [];
    this.localCategories = [];
    this.conversations = [];
    this.activeConversation = undefined;
    this.notices = [];
    this.vcardAsked = new Set();
    this.deleting = new Set();
    this.invitesSent = new Map();
    this.changed();
  }

  private online(conn: InstanceType<typeof Strophe.Connection>): void {
    const reconnected = this.status === 'reconnecting';
    this.jid = conn.jid;
    this.bare = bareJid(conn.jid);
    this.status = 'online';
    this.loadLocalCategories();
    conn.addHandler((s) => this.onRosterPush(s), NS_ROSTER, 'iq', 'set');
    conn.addHandler((s) => this.onPresence(s), null, 'presence', null);
    conn.addHandler((s) => this.onMessage(s), null, 'message', null);
    this.changed();
    // Carbons first, so that no message of the other resources is missed.
    this.iq($iq({ type: 'set' }).c('enable', { xmlns: NS_CARBONS })).catch(() => undefined);
    const rejoin = () => {
      if (!reconnected) this.loadRooms();
      for (const c of this.conversations) {
        if (c.kind === 'room' && (c.state === 'joined' || c.state === 'joining')) this.joinRoom(c);
      }
      this.changed();
    };
    this.iq($iq({ type: 'get' }).c('query', { xmlns: NS_ROSTER }))
      .then((result) => {
        this.contacts.clear();
        const query = child(result, 'query', NS_ROSTER);
        for (const item of query ? Array.from(query.children) : []) this.applyItem(item);
        this.sendPresence();
        for (const c of this.contacts.values()) this.fetchName(c.jid);
        rejoin();
        this.changed();
      })
      .catch(() => {
        this.sendPresence();
        rejoin();
      });
    this.vcard(this.bare).then((fn) => {
      if (fn) {
        this.myName = fn;
        this.changed();
      }
    });
    if (reconnected) this.notify(t('connectionBack'), 'info', true);
  }

  private iq(stanza: ReturnType<typeof $iq>): Promise<Element> {
    return new Promise((resolve, reject) => {
      if (!this.conn) {
        reject(new ActionError(t('connectionLost')));
        return;
      }
      this.conn.sendIQ(
        stanza,
        (result) => resolve(result),
        (error) => reject(new ActionError(describeError(error))),
        15000,
      );
    });
  }

  private send(stanza: Parameters<InstanceType<typeof Strophe.Connection>['send']>[0]): void {
    if (!this.conn) throw new ActionError(t('connectionLost'));
    this.conn.send(stanza);
  }

  // --------------------------------------------------------------- presence
  setShow(show: Show): void {
    this.myShow = show;
    this.sendPresence();
    this.changed();
  }

  private sendPresence(): void {
    const p = $pres();
    if (this.myShow !== 'available') p.c('show').t(this.myShow).up();
    p.c('priority').t('1');
    if (!this.conn) return;
    this.conn.send(p);
    // The rooms' participants see our state too.
    for (const c of this.conversations) {
      if (c.kind === 'room' && c.state === 'joined' && c.nick) {
        const rp = $pres({ to: `${c.jid}/${c.nick}` });
        if (this.myShow !== 'available') rp.c('show').t(this.myShow).up();
        this.conn.send(rp);
      }
    }
  }

  private onPresence(stanza: Element): boolean {
    const from = stanza.getAttribute('from') ?? '';
    const bare = bareJid(from);
    const type = stanza.getAttribute('type');
    if (bare === this.bare) return true;
    if (this.isRoom(bare)) {
      this.onRoomPresence(stanza);
      return true;
    }
    switch (type) {
      case null:
      case 'unavailable': {
        const resources = this.presence.get(bare) ?? new Map();
        if (type === 'unavailable') {
          resources.delete(resourceOf(from));
        } else {
          const priority = Number(child(stanza, 'priority')?.textContent ?? 0) || 0;
          resources.set(resourceOf(from), { show: showOf(stanza), priority });
        }
        this.presence.set(bare, resources);
        this.changed();
        break;
      }
      case 'subscribe': {
        const contact = this.contacts.get(bare);
        if (contact && (contact.ask || contact.subscription === 'to')) {
          // We asked first: this is the answer of someone who accepted.
          this.send($pres({ to: bare, type: 'subscribed' }));
        } else if (!this.requests.includes(bare)) {
          this.requests = [...this.requests, bare];
          this.fetchName(bare);
          this.changed();
        }
        break;
      }
      case 'unsubscribe':
        // The contact stopped seeing us; a request of theirs is withdrawn.
        this.requests = this.requests.filter((r) => r !== bare);
        this.changed();
        break;
      case 'unsubscribed':
        this.presence.delete(bare);
        this.changed();
        break;
      default:
        break;
    }
    return true;
  }

  // ----------------------------------------------------------------- roster
  private onRosterPush(stanza: Element): boolean {
    const from = stanza.getAttribute('from');
    if (from && bareJid(from) !== this.bare) return true;
    const before = this.groupCounts();
    const query = child(stanza, 'query', NS_ROSTER);
    for (const item of query ? Array.from(query.children) : []) this.applyItem(item);
    this.send($iq({ type: 'result', id: stanza.getAttribute('id') ?? '' }));
    const after = this.groupCounts();
    for (const [group, n] of before) {
      if (n > 0 && !after.has(group) && !this.localCategories.includes(group)) {
        if (this.deleting.has(group)) {
          this.deleting.delete(group);
        } else {
          this.notify(t('categoryRemoved', { name: group }));
        }
      }
    }
    this.changed();
    return true;
  }

  private applyItem(item: Element): void {
    if (item.localName !== 'item') return;
    const jid = bareJid(item.getAttribute('jid') ?? '');
    if (!jid) return;
    const subscription = item.getAttribute('subscription') ?? 'none';
    if (subscription === 'remove') {
      this.contacts.delete(jid);
      this.presence.delete(jid);
      return;
    }
    const groups = Array.from(item.children)
      .filter((g) => g.localName === 'group')
      .map((g) => g.textContent ?? '')
      .filter((g) => g);
    const contact: Contact = {
      jid,
      name: item.getAttribute('name') || undefined,
      groups: [...new Set(groups)],
      subscription: (['none', 'to', 'from', 'both'].includes(subscription)
        ? subscription
        : 'none') as Subscription,
      ask: item.getAttribute('ask') === 'subscribe',
      refused: !!child(item, 'refused', NS_CAUSERIE_ROSTER),
    };
    this.contacts.set(jid, contact);
    if (contact.subscription === 'none' || contact.subscription === 'from') {
      this.presence.delete(jid);
    }
    // A category that now holds a contact lives on the server.
    const local = this.localCategories.filter((c) => !contact.groups.includes(c));
    if (local.length !== this.localCategories.length) {
      this.localCategories = local;
      this.saveLocalCategories();
    }
    if (contact.subscription === 'both' || contact.subscription === 'from') {
      this.requests = this.requests.filter((r) => r !== jid);
    }
    this.fetchName(jid);
  }

  private rosterSet(contact: Pick<Contact, 'jid' | 'name' | 'groups'>): Promise<Element> {
    const iq = $iq({ type: 'set' }).c('query', { xmlns: NS_ROSTER });
    const attrs: Record<string, string> = { jid: contact.jid };
    if (contact.name) attrs.name = contact.name;
    iq.c('item', attrs);
    for (const g of contact.groups) iq.c('group').t(g).up();
    return this.iq(iq);
  }

  // ------------------------------------------------------------- categories
  private storageKey(): string {
    return `causerie:categories:${this.bare}`;
  }

  private loadLocalCategories(): void {
    try {
      const raw = localStorage.getItem(this.storageKey());
      const list: unknown = raw ? JSON.parse(raw) : [];
      this.localCategories = Array.isArray(list)
        ? list.filter((c): c is string => typeof c === 'string')
        : [];
    } catch {
      this.localCategories = [];
    }
  }

  private saveLocalCategories(): void {
    try {
      localStorage.setItem(this.storageKey(), JSON.stringify(this.localCategories));
    } catch {
      // Private browsing: the category lives until the page is closed.
    }
  }

  /** « Créer une catégorie »; throws an ActionError with the reason. */
  createCategory(rawName: string): string {
    const name = rawName.trim().replace(/\s+/g, ' ');
    if (!name) throw new ActionError(t('categoryNameMissing'));
    if ([t('allContacts'), t('otherContacts')].some((r) => byName(r, name) === 0)) {
      throw new ActionError(t('categoryReserved', { name }));
    }
    if (this.categories().some((c) => byName(c, name) === 0)) {
      throw new ActionError(t('categoryExists', { name }));
    }
    this.localCategories = [...this.localCategories, name];
    this.saveLocalCategories();
    this.changed();
    return name;
  }

  /** « Supprimer catégorie »: its contacts move to « Autres contacts ». */
  async deleteCategory(name: string): Promise<void> {
    this.localCategories = this.localCategories.filter((c) => c !== name);
    this.saveLocalCategories();
    const members = this.contactsIn(name);
    if (members.length > 0) this.deleting.add(name);
    this.changed();
    await Promise.all(
      members.map((c) => this.rosterSet({ ...c, groups: c.groups.filter((g) => g !== name) })),
    );
  }

  // --------------------------------------------------------------- contacts
  /** Directory search (XEP-0055 on search.DOMAIN, free-text field). */
  async search(text: string): Promise<SearchHit[]> {
    const iq = $iq({ type: 'set', to: `search.${this.config.domain}` })
      .c('query', { xmlns: NS_SEARCH })
      .c('x', { xmlns: NS_DATA, type: 'submit' })
      .c('field', { var: 'FORM_TYPE', type: 'hidden' })
      .c('value')
      .t(NS_SEARCH)
      .up()
      .up()
      .c('field', { var: 'search' })
      .c('value')
      .t(text);
    const result = await this.iq(iq);
    const x = child(child(result, 'query', NS_SEARCH) ?? result, 'x', NS_DATA);
    const hits: SearchHit[] = [];
    for (const item of x ? Array.from(x.children).filter((c) => c.localName === 'item') : []) {
      const value = (v: string) =>
        Array.from(item.children)
          .find((f) => f.getAttribute('var') === v)
          ?.querySelector('value')?.textContent ?? '';
      const jid = bareJid(value('jid'));
      if (jid && jid !== this.bare) {
        hits.push({ jid, name: value('name'), profile: value('profile'), classes: value('classes') });
      }
    }
    return hits;
  }

  /** « Ajouter le contact »: adds to `category` (null: « Autres contacts ») and asks. */
  async addContact(hit: SearchHit, category: string | null): Promise<void> {
    const existing = this.contacts.get(hit.jid);
    const groups = existing ? [...existing.groups] : [];
    if (category && !groups.includes(category)) groups.push(category);
    await this.rosterSet({ jid: hit.jid, name: hit.name || existing?.name, groups });
    this.names.set(hit.jid, hit.name);
    this.send($pres({ to: hit.jid, type: 'subscribe' }));
    if (this.requests.includes(hit.jid)) {
      // They asked us too: adding them is accepting.
      this.send($pres({ to: hit.jid, type: 'subscribed' }));
      this.requests = this.requests.filter((r) => r !== hit.jid);
    }
    this.changed();
  }

  /** « Supprimer contact »: removed on both sides by the server. */
  async removeContact(jid: string): Promise<void> {
    const iq = $iq({ type: 'set' })
      .c('query', { xmlns: NS_ROSTER })
      .c('item', { jid, subscription: 'remove' });
    await this.iq(iq);
  }

  /** « Accepter »: lets the requester see us and asks to see them. */
  accept(jid: string): void {
    this.send($pres({ to: jid, type: 'subscribed' }));
    const contact = this.contacts.get(jid);
    if (!contact || contact.subscription === 'none' || contact.subscription === 'from') {
      if (!contact?.ask) this.send($pres({ to: jid, type: 'subscribe' }));
    }
    this.requests = this.requests.filter((r) => r !== jid);
    this.changed();
  }

  /** « Refuser »: the requester's item reads « Invitation refusée ». */
  refuse(jid: string): void {
    this.send($pres({ to: jid, type: 'unsubscribed' }));
    this.requests = this.requests.filter((r) => r !== jid);
    this.changed();
  }

  private fetchName(jid: string): void {
    if (this.vcardAsked.has(jid) || this.contacts.get(jid)?.name) return;
    this.vcardAsked.add(jid);
    this.vcard(jid).then((fn) => {
      if (fn) {
        this.names.set(jid, fn);
        this.changed();
      }
    });
  }

  private async vcard(jid: string): Promise<string | undefined> {
    try {
      const result = await this.iq($iq({ type: 'get', to: jid }).c('vCard', { xmlns: NS_VCARD }));
      const card = child(result, 'vCard', NS_VCARD);
      return (card && child(card, 'FN')?.textContent?.trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------- conversations
  conversation(jid: string): Conversation | undefined {
    return this.conversations.find((c) => c.jid === jid);
  }

  /** Opens (or shows) the 1:1 conversation with `jid`, with its history kept in this browser. */
  openConversation(jid: string, activate = true): Conversation {
    const bare = bareJid(jid);
    let conv = this.conversation(bare);
    if (!conv) {
      conv = { jid: bare, kind: 'chat', lines: this.loadHistory(bare), unread: 0, draft: '' };
      this.conversations = [...this.conversations, conv];
      this.fetchName(bare);
    }
    if (activate || !this.activeConversation) this.showConversation(bare);
    this.changed();
    return conv;
  }

  showConversation(jid: string): void {
    this.activeConversation = jid;
    const conv = this.conversation(jid);
    if (conv) conv.unread = 0;
    this.changed();
  }

  /** Closes a tab; for a room, leaves it (the membership stays). */
  closeConversation(jid: string): void {
    const i = this.conversations.findIndex((c) => c.jid === jid);
    const conv = this.conversations[i];
    if (conv?.kind === 'room') {
      if ((conv.state === 'joined' || conv.state === 'joining') && this.conn) {
        const nick = conv.nick || this.myName || this.bare.split('@')[0];
        this.conn.send($pres({ to: `${conv.jid}/${nick}`, type: 'unavailable' }));
      }
      conv.state = 'left';
      this.forgetRoom(jid);
    }
    this.conversations = this.conversations.filter((c) => c.jid !== jid);
    if (this.activeConversation === jid) {
      const next = this.conversations[Math.min(i, this.conversations.length - 1)];
      this.activeConversation = next?.jid;
    }
    this.changed();
  }

  setDraft(jid: string, text: string): void {
    const conv = this.conversation(jid);
    if (conv) conv.draft = text;
  }

  /** Adds a line; a 1:1 conversation's lines are also kept in this browser. */
  private addLine(conv: Conversation, line: Omit<Line, 'id'> & { id?: string }): void {
    conv.lines = [...conv.lines, { ...line, id: line.id || newId() }];
    if (conv.kind === 'chat') this.saveHistory(conv);
  }

  sendMessage(jid: string, text: string): void {
    const body = text.replace(/^\s*\n|\s+$/g, '');
    if (!body.trim()) return;
    const existing = this.conversation(jid);
    if (existing?.kind === 'room') {
      if (existing.state !== 'joined') throw new ActionError(t('roomNotIn'));
      // The room sends it back to everyone, us included: it is shown then.
      this.send($msg({ to: jid, type: 'groupchat', id: newId() }).c('body').t(body));
      existing.draft = '';
      this.changed();
      return;
    }
    const conv = this.openConversation(jid);
    const id = newId();
    this.send($msg({ to: jid, type: 'chat', id }).c('body').t(body));
    this.addLine(conv, { id, kind: 'out', text: body, time: new Date() });
    conv.draft = '';
    this.changed();
  }

  private onMessage(stanza: Element): boolean {
    const from = bareJid(stanza.getAttribute('from') ?? '');
    if (!from) return true;
    if (from === this.bare) {
      this.onCarbon(stanza);
      return true;
    }
    if (this.isRoom(from)) {
      this.onRoomMessage(stanza);
      return true;
    }
    const direct = child(stanza, 'x', NS_CONFERENCE);
    if (direct && stanza.getAttribute('type') !== 'error') {
      // A direct invitation (XEP-0249), from another client.
      const room = bareJid(direct.getAttribute('jid') ?? '');
      if (this.isRoom(room)) {
        this.addRoomInvite({
          room,
          from,
          text: t('roomInvitedBy', { name: this.displayName(from) }),
          reason: direct.getAttribute('reason') || undefined,
        });
      }
      return true;
    }
    this.onChatMessage(stanza);
    return true;
  }

  /** A 1:1 message (or its error) from a contact. */
  private onChatMessage(stanza: Element): void {
    const from = bareJid(stanza.getAttribute('from') ?? '');
    const type = stanza.getAttribute('type') ?? 'normal';
    if (type === 'error') {
      const conv = this.openConversation(from, false);
      this.addLine(conv, {
        kind: 'error',
        text: t('notDelivered', { reason: describeError(stanza) }),
        time: new Date(),
      });
      this.changed();
      return;
    }
    if (type !== 'chat' && type !== 'normal') return;
    const body = child(stanza, 'body')?.textContent;
    if (!body) return;
    const id = stanza.getAttribute('id') || newId();
    const conv = this.openConversation(from, false);
    // The same message may come twice: to this resource and as a carbon.
    if (conv.lines.some((l) => l.kind === 'in' && l.id === id)) return;
    this.addLine(conv, { id, kind: 'in', text: body, time: stampOf(stanza) ?? new Date() });
    if (this.activeConversation !== from || document.hidden) conv.unread += 1;
    this.changed();
  }

  /** XEP-0280: what another resource of ours sent or received. */
  private onCarbon(stanza: Element): void {
    const sent = child(stanza, 'sent', NS_CARBONS);
    const received = child(stanza, 'received', NS_CARBONS);
    const inner = child(child(sent ?? received, 'forwarded', NS_FORWARD), 'message');
    if (!inner) return;
    if (received) {
      if (!this.isRoom(bareJid(inner.getAttribute('from') ?? ''))) this.onChatMessage(inner);
      return;
    }
    const to = bareJid(inner.getAttribute('to') ?? '');
    const body = child(inner, 'body')?.textContent;
    if (!to || !body || this.isRoom(to) || inner.getAttribute('type') !== 'chat') return;
    const id = inner.getAttribute('id') || newId();
    const conv = this.openConversation(to, false);
    if (conv.lines.some((l) => l.kind === 'out' && l.id === id)) return;
    this.addLine(conv, { id, kind: 'out', text: body, time: stampOf(inner) ?? new Date() });
    this.changed();
  }

  // ---------------------------------------------------- 1:1 history (browser)
  private historyKey(peer: string): string {
    return `causerie:history:${this.bare}:${peer}`;
  }

  private loadHistory(peer: string): Line[] {
    try {
      const raw = localStorage.getItem(this.historyKey(peer));
      const list: unknown = raw ? JSON.parse(raw) : [];
      if (!Array.isArray(list)) return [];
      return list
        .filter(
          (l): l is { id: string; kind: Line['kind']; text: string; time: string } =>
            !!l &&
            typeof l.id === 'string' &&
            typeof l.text === 'string' &&
            typeof l.time === 'string' &&
            ['in', 'out', 'error', 'event'].includes(l.kind),
        )
        .map((l) => ({ id: l.id, kind: l.kind, text: l.text, time: new Date(l.time) }));
    } catch {
      return [];
    }
  }

  private saveHistory(conv: Conversation): void {
    try {
      const lines = conv.lines
        .filter((l) => l.kind === 'in' || l.kind === 'out')
        .slice(-HISTORY_LINES)
        .map((l) => ({ id: l.id, kind: l.kind, text: l.text, time: l.time.toISOString() }));
      localStorage.setItem(this.historyKey(conv.jid), JSON.stringify(lines));
    } catch {
      // Private browsing or a full storage: the history lives until the page is closed.
    }
  }

  // ------------------------------------------------------------------ rooms
  // The seed's conversations with several people are XEP-0045 rooms on
  // conference.DOMAIN, members-only. « Commencer conversation »: a name from
  // the service (XEP-0307), a join (the room is made locked: status 201 and
  // « Le salon de discussion est verrouillé… »), the configuration form with
  // the conversation's name (« …maintenant déverrouillé »), then a mediated
  // invitation of the contact, which makes them a member. An invitation is
  // accepted by joining and refused by a decline. The creator is the room's
  // owner and removes someone by role `none` (status 307); the room tells
  // the removed person why. Rooms open in this browser are remembered
  // (localStorage) and joined again at the next login; joining sends the
  // room's last messages (its history).

  private mucService(): string {
    return `conference.${this.config.domain}`;
  }

  isRoom(jid: string): boolean {
    return jid.endsWith(`@${this.mucService()}`);
  }

  /** What a room's tab and heading say. */
  roomTitle(conv: Conversation): string {
    return conv.title || conv.jid.split('@')[0];
  }

  private roomConversation(room: string, title?: string): Conversation {
    let conv = this.conversation(room);
    if (!conv) {
      conv = {
        jid: room,
        kind: 'room',
        lines: [],
        unread: 0,
        draft: '',
        title,
        state: 'left',
        occupants: new Map(),
        seen: new Set(),
      };
      this.conversations = [...this.conversations, conv];
    } else if (title) {
      conv.title = title;
    }
    return conv;
  }

  private joinRoom(conv: Conversation): void {
    if (!this.conn) return;
    conv.state = 'joining';
    conv.occupants = new Map();
    conv.joinHistory = 0;
    const nick = conv.nick || this.myName || this.bare.split('@')[0];
    const p = $pres({ to: `${conv.jid}/${nick}` })
      .c('x', { xmlns: NS_MUC })
      .c('history', { maxstanzas: String(ROOM_HISTORY) })
      .up()
      .up();
    if (this.myShow !== 'available') p.c('show').t(this.myShow);
    this.conn.send(p);
  }

  /** « Commencer conversation » with `invitee`: makes the room, names it, invites. */
  async startRoom(rawTitle: string, invitee: string): Promise<string> {
    const title = rawTitle.trim().replace(/\s+/g, ' ');
    if (!title) throw new ActionError(t('roomNameMissing'));
    const result = await this.iq(
      $iq({ type: 'get', to: this.mucService() }).c('unique', { xmlns: NS_MUC_UNIQUE }),
    );
    const unique = child(result, 'unique', NS_MUC_UNIQUE)?.textContent?.trim().toLowerCase();
    if (!unique) throw new ActionError(t('actionFailed', { condition: 'unique' }));
    const room = unique.includes('@') ? bareJid(unique) : `${unique}@${this.mucService()}`;
    const conv = this.roomConversation(room, title);
    conv.creating = { title, invite: [invitee] };
    this.joinRoom(conv);
    this.showConversation(room);
    return room;
  }

  /** Submits the new room's configuration (its name), then sends the invitations. */
  private async configureRoom(conv: Conversation): Promise<void> {
    const creating = conv.creating;
    conv.creating = undefined;
    if (!creating) return;
    const form = $iq({ type: 'set', to: conv.jid })
      .c('query', { xmlns: NS_MUC_OWNER })
      .c('x', { xmlns: NS_DATA, type: 'submit' })
      .c('field', { var: 'FORM_TYPE' })
      .c('value')
      .t('http://jabber.org/protocol/muc#roomconfig')
      .up()
      .up()
      .c('field', { var: 'muc#roomconfig_roomname' })
      .c('value')
      .t(creating.title);
    try {
      await this.iq(form);
    } catch (e) {
      this.addLine(conv, { kind: 'error', text: errorMessageOf(e), time: new Date() });
      this.changed();
      return;
    }
    this.saveRooms();
    for (const jid of creating.invite) this.invite(conv.jid, jid);
  }

  /** « Inviter contact »: a mediated invitation; the rules may refuse it (shown in the room). */
  invite(room: string, jid: string): void {
    const id = newId();
    this.invitesSent.set(id, { room, jid });
    this.send(
      $msg({ to: room, id })
        .c('x', { xmlns: NS_MUC_USER })
        .c('invite', { to: jid }),
    );
  }

  /** « Retirer de la conversation » (the creator only): role `none` on the nickname. */
  async removeParticipant(room: string, nick: string): Promise<void> {
    await this.iq(
      $iq({ type: 'set', to: room })
        .c('query', { xmlns: NS_MUC_ADMIN })
        .c('item', { nick, role: 'none' }),
    );
  }

  private addRoomInvite(invite: RoomInvite): void {
    if (this.conversation(invite.room)?.state === 'joined') return;
    const known = this.roomInvites.some((i) => i.room === invite.room);
    this.roomInvites = [...this.roomInvites.filter((i) => i.room !== invite.room), invite];
    this.fetchName(invite.from);
    // Said out loud (a status message) as well as counted on « Mes demandes ».
    if (!known) this.notify(invite.text, 'info', true);
    this.changed();
  }

  /** The rooms the user is a member of, with their names (the service lists only those). */
  async myRooms(): Promise<{ jid: string; name: string }[]> {
    const result = await this.iq(
      $iq({ type: 'get', to: this.mucService() }).c('query', { xmlns: 'http://jabber.org/protocol/disco#items' }),
    );
    const query = child(result, 'query');
    return children(query, 'item')
      .map((i) => ({ jid: bareJid(i.getAttribute('jid') ?? ''), name: i.getAttribute('name') ?? '' }))
      .filter((r) => this.isRoom(r.jid))
      .sort((a, b) => byName(a.name || a.jid, b.name || b.jid));
  }

  /** Opens a room one is a member of (« Mes conversations »): joins it, with its history. */
  openRoom(room: string, title?: string): void {
    const conv = this.roomConversation(room, title || undefined);
    if (conv.state !== 'joined' && conv.state !== 'joining') this.joinRoom(conv);
    this.roomInvites = this.roomInvites.filter((i) => i.room !== room);
    this.showConversation(room);
  }

  /** « Accepter » an invitation: join the room. */
  acceptRoomInvite(room: string): void {
    this.roomInvites = this.roomInvites.filter((i) => i.room !== room);
    const conv = this.roomConversation(room);
    this.joinRoom(conv);
    this.showConversation(room);
    this.fetchRoomTitle(conv);
  }

  /** « Refuser » an invitation: a decline, which the inviter reads. */
  refuseRoomInvite(room: string): void {
    const invite = this.roomInvites.find((i) => i.room === room);
    this.roomInvites = this.roomInvites.filter((i) => i.room !== room);
    const decline: Record<string, string> = invite ? { to: invite.from } : {};
    this.send($msg({ to: room }).c('x', { xmlns: NS_MUC_USER }).c('decline', decline));
    this.changed();
  }

  private async fetchRoomTitle(conv: Conversation): Promise<void> {
    try {
      const info = await this.iq($iq({ type: 'get', to: conv.jid }).c('query', { xmlns: NS_DISCO_INFO }));
      const name = child(child(info, 'query', NS_DISCO_INFO), 'identity')?.getAttribute('name');
      if (name) {
        conv.title = name;
        this.saveRooms();
        this.changed();
      }
    } catch {
      // The room's address stays as its title.
    }
  }

  private onRoomPresence(stanza: Element): void {
    const from = stanza.getAttribute('from') ?? '';
    const room = bareJid(from);
    const nick = resourceOf(from);
    const conv = this.conversation(room);
    if (!conv || conv.kind !== 'room' || !conv.occupants) return;
    const type = stanza.getAttribute('type');
    const x = child(stanza, 'x', NS_MUC_USER);
    const codes = statusCodes(x);
    const item = child(x, 'item', NS_MUC_USER);
    const time = stampOf(stanza) ?? new Date();
    if (type === 'error') {
      if (conv.state === 'joining') {
        conv.state = 'left';
        this.forgetRoom(room);
        this.addLine(conv, {
          kind: 'error',
          text: t('roomJoinFailed', { reason: describeError(stanza) }),
          time: new Date(),
        });
        this.changed();
      }
      return;
    }
    if (type === 'unavailable') {
      if (codes.has(110)) {
        if (codes.has(307) || codes.has(321)) {
          conv.state = 'removed';
          this.forgetRoom(room);
        } else if (child(x, 'destroy', NS_MUC_USER)) {
          conv.state = 'removed';
          this.forgetRoom(room);
          this.addLine(conv, { kind: 'event', text: t('roomDestroyed'), time });
        } else if (conv.state === 'joined') {
          conv.state = 'left';
        }
        conv.occupants.clear();
      } else if (conv.occupants.delete(nick) && conv.state === 'joined') {
        // « [NOM Prénom] a quitté la conversation : [HH:MM:SS] », also when removed.
        this.addLine(conv, { kind: 'event', text: t('roomLeft', { name: nick, time: formatTime(time) }), time });
      }
      this.changed();
      return;
    }
    const isNew = !conv.occupants.has(nick);
    const occupant: Occupant = {
      nick,
      jid: item?.getAttribute('jid') ? bareJid(item.getAttribute('jid')!) : undefined,
      show: showOf(stanza),
      affiliation: item?.getAttribute('affiliation') ?? 'none',
      role: item?.getAttribute('role') ?? 'participant',
    };
    conv.occupants.set(nick, occupant);
    if (codes.has(110)) {
      const first = conv.state !== 'joined';
      conv.nick = nick;
      conv.affiliation = occupant.affiliation;
      conv.state = 'joined';
      // In the room (joined again at login, or from « Mes conversations »): no invitation to answer.
      this.roomInvites = this.roomInvites.filter((i) => i.room !== room);
      if (codes.has(201) && conv.creating) {
        void this.configureRoom(conv);
      } else if (first) {
        this.saveRooms();
        if (!conv.title) void this.fetchRoomTitle(conv);
      }
    } else if (isNew && conv.state === 'joined') {
      // « [NOM Prénom] a rejoint la conversation | [HH:MM:SS]. »
      this.addLine(conv, { kind: 'event', text: t('roomJoined', { name: nick, time: formatTime(time) }), time });
    }
    this.changed();
  }

  /**
   * « Messages précédents »: the page of the room's archive (XEP-0313, paged
   * by XEP-0059) before the oldest message shown.
   */
  async loadOlder(room: string): Promise<void> {
    const conv = this.conversation(room);
    if (!conv || conv.kind !== 'room' || conv.loadingOlder) return;
    const oldest = conv.lines.find((l) => conv.seen?.has(l.id))?.id;
    const queryid = newId();
    this.mamResults.set(queryid, []);
    conv.loadingOlder = true;
    this.changed();
    try {
      const iq = $iq({ type: 'set', to: room })
        .c('query', { xmlns: NS_MAM, queryid })
        .c('set', { xmlns: NS_RSM })
        .c('max')
        .t(String(ROOM_HISTORY))
        .up();
      if (oldest) iq.c('before').t(oldest);
      else iq.c('before');
      const result = await this.iq(iq);
      const found = this.mamResults.get(queryid) ?? [];
      const older: Line[] = [];
      for (const r of found) {
        const id = r.getAttribute('id');
        const forwarded = child(r, 'forwarded', NS_FORWARD);
        const m = child(forwarded, 'message');
        if (!id || !m || conv.seen?.has(id) || m.getAttribute('type') !== 'groupchat') continue;
        const body = bodyOf(m);
        if (body === undefined) continue;
        const nick = resourceOf(m.getAttribute('from') ?? '');
        conv.seen?.add(id);
        older.push({
          id,
          kind: nick === conv.nick ? 'out' : 'in',
          who: nick,
          text: body,
          time: (forwarded && stampOf(forwarded)) ?? new Date(),
        });
      }
      conv.lines = [...older, ...conv.lines];
      conv.historyComplete = child(result, 'fin', NS_MAM)?.getAttribute('complete') === 'true' || found.length === 0;
    } catch (e) {
      this.addLine(conv, { kind: 'error', text: errorMessageOf(e), time: new Date() });
    } finally {
      this.mamResults.delete(queryid);
      conv.loadingOlder = false;
      this.changed();
    }
  }

  private onRoomMessage(stanza: Element): void {
    const from = stanza.getAttribute('from') ?? '';
    const room = bareJid(from);
    const nick = resourceOf(from);
    const type = stanza.getAttribute('type') ?? 'normal';
    const archived = child(stanza, 'result', NS_MAM);
    if (archived) {
      this.mamResults.get(archived.getAttribute('queryid') ?? '')?.push(archived);
      return;
    }
    if (child(stanza, 'subject') && !child(stanza, 'body')) {
      // The subject ends a join: fewer messages than asked means the whole history is shown.
      const joined = this.conversation(room);
      if (joined?.joinHistory !== undefined) {
        if (joined.joinHistory < ROOM_HISTORY) joined.historyComplete = true;
        joined.joinHistory = undefined;
        this.changed();
      }
      return;
    }
    const x = child(stanza, 'x', NS_MUC_USER);
    const invite = child(x, 'invite', NS_MUC_USER);
    const body = bodyOf(stanza);
    if (invite && type !== 'error') {
      const inviter = bareJid(invite.getAttribute('from') ?? '');
      this.addRoomInvite({
        room,
        from: inviter,
        text: body || t('roomInvitedBy', { name: this.displayName(inviter) }),
        reason: child(invite, 'reason', NS_MUC_USER)?.textContent || undefined,
      });
      return;
    }
    const conv = this.conversation(room);
    const time = stampOf(stanza) ?? new Date();
    if (type === 'error') {
      const id = stanza.getAttribute('id') ?? '';
      const sent = this.invitesSent.get(id);
      this.invitesSent.delete(id);
      const reason = describeError(stanza);
      const text = sent
        ? t('inviteRefused', { name: this.displayName(sent.jid), reason })
        : t('notDelivered', { reason });
      if (conv) {
        this.addLine(conv, { kind: 'error', text, time: new Date() });
        this.changed();
      } else {
        this.notify(text, 'error');
      }
      return;
    }
    if (!nick) {
      // From the room itself: the seed's events, a removal, a decline.
      if (!body) {
        if (conv && statusCodes(x).has(104)) void this.fetchRoomTitle(conv);
        return;
      }
      const removed = child(child(x, 'item', NS_MUC_USER), 'actor', NS_MUC_USER);
      if (removed) {
        // « [NOM Prénom] vous a retiré de la conversation [Nom de la conversation]. »
        this.notify(body);
        this.roomInvites = this.roomInvites.filter((i) => i.room !== room);
        if (conv) {
          conv.state = 'removed';
          conv.occupants?.clear();
          this.forgetRoom(room);
        }
      }
      if (conv) {
        this.addLine(conv, { kind: 'event', text: body, time });
        if (this.activeConversation !== room) conv.unread += 1;
      } else if (!removed) {
        this.notify(body);
      }
      this.changed();
      return;
    }
    if (type !== 'groupchat' || body === undefined || !conv || conv.kind !== 'room') return;
    const sid = children(stanza, 'stanza-id', NS_SID).find((s) => bareJid(s.getAttribute('by') ?? '') === room);
    const key = sid?.getAttribute('id');
    const delayed = !!child(stanza, 'delay', NS_DELAY);
    if (delayed && conv.joinHistory !== undefined) conv.joinHistory += 1;
    if (key) {
      if (conv.seen?.has(key)) return;
      conv.seen?.add(key);
    }
    this.addLine(conv, {
      id: key ?? undefined,
      kind: nick === conv.nick ? 'out' : 'in',
      who: nick,
      text: body,
      time,
    });
    if (!delayed && nick !== conv.nick && (this.activeConversation !== room || document.hidden)) {
      conv.unread += 1;
    }
    this.changed();
  }

  private roomsKey(): string {
    return `causerie:rooms:${this.bare}`;
  }

  /** The rooms open in this browser, joined again at the next login. */
  private loadRooms(): void {
    try {
      const raw = localStorage.getItem(this.roomsKey());
      const list: unknown = raw ? JSON.parse(raw) : [];
      if (!Array.isArray(list)) return;
      for (const r of list) {
        if (r && typeof r.jid === 'string' && this.isRoom(r.jid)) {
          const conv = this.roomConversation(r.jid, typeof r.title === 'string' ? r.title : undefined);
          conv.state = 'joining';
        }
      }
      if (!this.activeConversation && this.conversations[0]) {
        this.activeConversation = this.conversations[0].jid;
      }
    } catch {
      // Nothing remembered.
    }
  }

  private saveRooms(): void {
    try {
      const list = this.conversations
        .filter((c) => c.kind === 'room' && (c.state === 'joined' || c.state === 'joining'))
        .map((c) => ({ jid: c.jid, title: c.title }));
      localStorage.setItem(this.roomsKey(), JSON.stringify(list));
    } catch {
      // Not remembered.
    }
  }

  private forgetRoom(room: string): void {
    try {
      const raw = localStorage.getItem(this.roomsKey());
      const list: unknown = raw ? JSON.parse(raw) : [];
      if (!Array.isArray(list)) return;
      localStorage.setItem(
        this.roomsKey(),
        JSON.stringify(list.filter((r) => r && r.jid !== room)),
      );
    } catch {
      // Nothing remembered.
    }
  }
}

function errorMessageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function formatTime(d: Date): string {
  return d.toLocaleTimeString(lang === 'en' ? 'en-GB' : 'fr-FR', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}
