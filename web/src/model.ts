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
}

export interface Conversation {
  jid: string;
  lines: Line[];
  unread: number;
  draft: string;
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

function resourceOf(jid: string): string {
  const i = jid.indexOf('/');
  return i < 0 ? '' : jid.slice(i + 1);
}

function child(el: Element, name: string, ns?: string): Element | undefined {
  for (const c of Array.from(el.children)) {
    if (c.localName === name && (ns === undefined || c.namespaceURI === ns)) return c;
  }
  return undefined;
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
    this.localCategories = [];
    this.conversations = [];
    this.activeConversation = undefined;
    this.notices = [];
    this.vcardAsked = new Set();
    this.deleting = new Set();
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
    this.iq($iq({ type: 'get' }).c('query', { xmlns: NS_ROSTER }))
      .then((result) => {
        this.contacts.clear();
        const query = child(result, 'query', NS_ROSTER);
        for (const item of query ? Array.from(query.children) : []) this.applyItem(item);
        this.sendPresence();
        for (const c of this.contacts.values()) this.fetchName(c.jid);
        this.changed();
      })
      .catch(() => this.sendPresence());
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
    if (this.conn) this.conn.send(p);
  }

  private onPresence(stanza: Element): boolean {
    const from = stanza.getAttribute('from') ?? '';
    const bare = bareJid(from);
    const type = stanza.getAttribute('type');
    if (bare === this.bare) return true;
    switch (type) {
      case null:
      case 'unavailable': {
        const resources = this.presence.get(bare) ?? new Map();
        if (type === 'unavailable') {
          resources.delete(resourceOf(from));
        } else {
          const show = child(stanza, 'show')?.textContent?.trim();
          const priority = Number(child(stanza, 'priority')?.textContent ?? 0) || 0;
          resources.set(resourceOf(from), {
            show: show === 'dnd' ? 'dnd' : show === 'away' || show === 'xa' ? 'away' : 'available',
            priority,
          });
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

  openConversation(jid: string, activate = true): Conversation {
    const bare = bareJid(jid);
    let conv = this.conversation(bare);
    if (!conv) {
      conv = { jid: bare, lines: [], unread: 0, draft: '' };
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

  closeConversation(jid: string): void {
    const i = this.conversations.findIndex((c) => c.jid === jid);
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

  sendMessage(jid: string, text: string): void {
    const body = text.replace(/^\s*\n|\s+$/g, '');
    if (!body.trim()) return;
    const conv = this.openConversation(jid);
    const id = newId();
    this.send($msg({ to: jid, type: 'chat', id }).c('body').t(body));
    conv.lines = [...conv.lines, { id, kind: 'out', text: body, time: new Date() }];
    conv.draft = '';
    this.changed();
  }

  private onMessage(stanza: Element): boolean {
    const from = bareJid(stanza.getAttribute('from') ?? '');
    const type = stanza.getAttribute('type') ?? 'normal';
    if (!from || from === this.bare) return true;
    if (type === 'error') {
      const conv = this.openConversation(from, false);
      conv.lines = [
        ...conv.lines,
        {
          id: newId(),
          kind: 'error',
          text: t('notDelivered', { reason: describeError(stanza) }),
          time: new Date(),
        },
      ];
      this.changed();
      return true;
    }
    if (type !== 'chat' && type !== 'normal') return true;
    const body = child(stanza, 'body')?.textContent;
    if (!body) return true;
    const stamp = child(stanza, 'delay', NS_DELAY)?.getAttribute('stamp');
    const time = stamp ? new Date(stamp) : new Date();
    const conv = this.openConversation(from, false);
    conv.lines = [
      ...conv.lines,
      { id: stanza.getAttribute('id') || newId(), kind: 'in', text: body, time },
    ];
    if (this.activeConversation !== from || document.hidden) conv.unread += 1;
    this.changed();
    return true;
  }
}

export function formatTime(d: Date): string {
  return d.toLocaleTimeString(lang === 'en' ? 'en-GB' : 'fr-FR', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}
