// The client's state and its XMPP side. The pieces:
// - ../xmpp/connection.ts: the connection (sign-in, reconnection);
// - ../xmpp/stanzas.ts: pure stanza builders and parsers (unit-tested);
// - roster.ts: contacts, presence, requests, categories (state);
// - rooms.ts: conversations with several people (XEP-0045);
// - storage.ts: what is kept for the account on the server (XEP-0049
//   private storage): categories, open rooms, settings; nothing in the browser;
// - upload.ts: sharing files (XEP-0363), when the server offers it;
// - this file: the `Model` the screens read and act on, 1:1 conversations
//   and notices. Every change calls `changed()`, which re-renders them.
//
// The model produces no UI text: what it has to say (events, errors,
// notices) is a `Say` (a catalogue key with its parameters, or a server's
// text), which the screens turn into words.
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
// - Categories are roster groups; their list (empty ones included, since a
//   roster group cannot be empty) is kept in private storage. Moving a
//   contact and renaming a category are roster sets of its groups.
//
// A message sent from another resource of the account comes back as a carbon
// (XEP-0280). The history of a 1:1 conversation is the server's archive
// (XEP-0313 at our own bare JID, `with` the contact): its last page when the
// conversation opens, « Messages précédents » for the pages before. A message
// is known by its stanza-id (XEP-0359, `by` our bare JID: the id the archive
// keeps it under) or its origin-id (which we put on what we send), so that
// one shown live is not shown again from the archive. Rooms' history comes
// from the room.

import type { Say } from '../i18n';
import { byName } from '../shared/i18n';
import { Link, type LoginFailure } from '../xmpp/connection';
import * as X from '../xmpp/stanzas';
import { fileMessage } from '../xmpp/upload';
import { NS, type SearchHit, type Show, bareJid, child, resourceOf } from '../xmpp/stanzas';
import { ActionError, type Conversation, type Line, type Notice, describeError, newId, sayError } from './conversation';
import { type Contact, type ContactState, Roster } from './roster';
import { Rooms, type RoomsHost } from './rooms';
import { AccountData, type Prefs, forgetBrowser } from './storage';
import { Upload } from './upload';

export { bareJid, resourceOf } from '../xmpp/stanzas';
export type { SearchHit, Show } from '../xmpp/stanzas';
export type { Contact, ContactState } from './roster';
export type { RoomInvite } from './rooms';
export type { Prefs } from './storage';
export * from './conversation';

/** Minutes without activity before « Absent », unless the user set another delay. */
export const DEFAULT_AWAY_AFTER = 10;

/** Messages of a 1:1 conversation's archive per page (the last page when it opens). */
export const CHAT_HISTORY = 50;

export type Status = 'signed-out' | 'connecting' | 'online' | 'reconnecting';

export interface ClientConfig {
  domain: string;
  websocket: string;
  /** The user's language (`fr`, `en`): which of the server's texts to pick. */
  lang?: string;
  /** Where the server's shared files are (XEP-0363): only those are previewed. */
  upload?: string;
  /** The portal's single sign-on (CAS) is configured: where it starts. */
  sso?: string;
}

export class Model implements RoomsHost {
  status: Status = 'signed-out';
  loginError?: Say;
  config: ClientConfig;
  readonly lang: string;

  jid = '';
  bare = '';
  myName = '';
  /**
   * The user's profile in the school's directory (`student`, `relative`,
   * `teacher`, `personnel`, `guest`), from the server (our own vCard):
   * undefined until the card comes, null for an account outside the directory.
   */
  profile?: string | null;
  myShow: Show = 'available';
  /** « Absent » set by inactivity, not by the user. */
  autoAway = false;

  roster = new Roster();
  readonly rooms: Rooms;
  readonly upload: Upload;
  conversations: Conversation[] = [];
  activeConversation?: string;
  notices: Notice[] = [];
  /** The user's quiet hours, while they are on (« Heures calmes »): until when (local time). */
  quiet?: { until: string };
  /** His structure's kill switch, when not normal (« Coupure »): its mode and the school's text. */
  shutdown?: { mode: string; text?: string };
  /** The user cannot see the window (see `setHidden`). */
  hidden = false;
  /** The user's settings, kept for the account on the server. */
  prefs: Prefs = {};

  readonly link: Link;
  /** The account's client data on the server (private storage). */
  storage?: AccountData;
  /** The archived messages of a query of our own archive under way, by query id. */
  private mamResults = new Map<string, Element[]>();
  private noticeCounter = 0;
  private vcardAsked = new Set<string>();
  /** Categories being deleted on purpose: their emptying is not announced. */
  private deleting = new Set<string>();
  private listeners = new Set<() => void>();
  private incoming = new Set<(conv: Conversation, line: Line) => void>();

  constructor(config: ClientConfig) {
    this.config = config;
    this.lang = config.lang ?? 'fr';
    this.rooms = new Rooms(this);
    this.upload = new Upload(this);
    this.link = new Link(() => this.websocketUrl(), {
      online: (jid, reconnected) => this.online(jid, reconnected),
      lost: () => {
        this.roster.presence.clear();
        this.status = 'reconnecting';
        this.changed();
      },
      refused: (failure) => {
        // The password changed, or the account was closed, meanwhile; or the portal's
        // session ended (its single log-out).
        this.logout();
        this.loginError = this.loginFailure(failure);
        this.changed();
      },
    });
  }

  // ------------------------------------------------------------ observation
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const l of this.listeners) l();
  }

  /** Hears of each new message from someone else that the user has not seen (counted unread). */
  onIncoming(listener: (conv: Conversation, line: Line) => void): () => void {
    this.incoming.add(listener);
    return () => this.incoming.delete(listener);
  }

  /** A message counted unread: told to the `onIncoming` listeners. */
  announce(conv: Conversation, line: Line): void {
    for (const l of this.incoming) l(conv, line);
  }

  setPrefs(patch: Partial<Prefs>): void {
    this.prefs = { ...this.prefs, ...patch };
    this.storage?.savePrefs(this.prefs).catch((e) => this.fail(e));
    this.changed();
  }

  // ---------------------------------------------------------------- derived
  get contacts(): Map<string, Contact> {
    return this.roster.contacts;
  }

  get requests(): string[] {
    return this.roster.requests;
  }

  /** The categories kept on the server, empty ones included. */
  get savedCategories(): string[] {
    return this.roster.savedCategories;
  }

  displayName(jid: string): string {
    const bare = bareJid(jid);
    if (bare === this.bare && this.myName) return this.myName;
    return this.roster.contacts.get(bare)?.name || this.roster.names.get(bare) || bare.split('@')[0];
  }

  stateOf(jid: string): ContactState {
    return this.roster.stateOf(jid);
  }

  /** One of the seed's « contacts actifs » (see `Roster.isActive`). */
  isActive(jid: string): boolean {
    return this.roster.isActive(jid);
  }

  /** Every category (roster groups and local ones), sorted. */
  categories(): string[] {
    return this.roster.categories();
  }

  contactsIn(category: string | null): Contact[] {
    return this.roster
      .members(category)
      .sort((a, b) => byName(this.displayName(a.jid), this.displayName(b.jid)));
  }

  /** Unread messages of the 1:1 conversation with `jid`. */
  unreadOf(jid: string): number {
    const conv = this.conversation(bareJid(jid));
    return conv?.kind === 'chat' ? conv.unread : 0;
  }

  /** Unread messages of a category's contacts (null: « Autres contacts »). */
  unreadIn(category: string | null): number {
    return this.roster.members(category).reduce((n, c) => n + this.unreadOf(c.jid), 0);
  }

  /** Unread messages of every conversation (1:1 and rooms). */
  unreadTotal(): number {
    return this.conversations.reduce((n, c) => n + c.unread, 0);
  }

  // ------------------------------------------------------------- attention
  /**
   * Whether the user cannot see the window: the page is hidden (another tab,
   * minimised) or the portal reduced its floating window. Messages then count
   * as unread even in the conversation shown; they stop when it is seen again.
   */
  setHidden(hidden: boolean): void {
    if (this.hidden === hidden) return;
    this.hidden = hidden;
    if (!hidden && this.activeConversation) this.showConversation(this.activeConversation);
    this.changed();
  }

  // -------------------------------------------------------------- notices
  /** Shows an information message; a `transient` one goes away by itself after a while. */
  notify(say: Say, kind: Notice['kind'] = 'info', transient = false): void {
    const id = ++this.noticeCounter;
    this.notices = [...this.notices, { id, kind, say }].slice(-5);
    if (transient) window.setTimeout(() => this.dismiss(id), 8000);
    this.changed();
  }

  /** Tells the user an action failed. */
  fail(e: unknown): void {
    this.notify(sayError(e, this.lang), 'error');
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }

  // ------------------------------------------------------------ connection
  /** Signs in; resolves when online, rejects with an ActionError otherwise. */
  login(identifier: string, password: string): Promise<void> {
    const id = identifier.trim();
    const jid = id.includes('@') ? id : `${id}@${this.config.domain}`;
    if (!window.isSecureContext) {
      // No SCRAM without WebCrypto, and the server offers PLAIN on confidential channels only.
      this.loginError = { key: 'loginSecureContext' };
      this.changed();
      return Promise.reject(new ActionError(this.loginError));
    }
    this.status = 'connecting';
    this.loginError = undefined;
    this.changed();
    return this.link.start({ jid, password }).catch((failure: LoginFailure) => {
      this.status = 'signed-out';
      this.loginError = this.loginFailure(failure);
      this.changed();
      throw new ActionError(this.loginError);
    });
  }

  /**
   * Signs in through the portal's single sign-on, with the session this browser has (no
   * password); rejects with the LoginFailure when there is none (the caller then sends the
   * browser to the portal's sign-in, `portalSignIn`) or the server refuses.
   */
  loginWithPortal(): Promise<void> {
    this.status = 'connecting';
    this.loginError = undefined;
    this.changed();
    return this.link.start({ portal: true }).catch((failure: LoginFailure) => {
      this.status = 'signed-out';
      // No session yet is not an error to show: the sign-in page offers the portal.
      const quiet = failure.kind === 'portal' && failure.reason === 'signed-out';
      this.loginError = quiet ? undefined : this.loginFailure(failure);
      this.changed();
      throw failure;
    });
  }

  /** Whether the current sign-in came through the portal. */
  get viaPortal(): boolean {
    return this.link.viaPortal;
  }

  /** What a refused portal sign-in (`#sso-error=CODE` on the way back) says. */
  static portalError(code: string): Say {
    switch (code) {
      case 'unknown-user':
        return { key: 'ssoUnknownUser' };
      case 'no-access':
        return { key: 'ssoNoAccess' };
      case 'cas-unreachable':
        return { key: 'ssoUnreachable' };
      default:
        return { key: 'ssoCasFailed' };
    }
  }

  /** Shows a refused portal sign-in's reason on the sign-in page. */
  showPortalError(code: string): void {
    this.loginError = Model.portalError(code);
    this.changed();
  }

  private loginFailure(failure: LoginFailure): Say {
    if (failure.kind === 'unreachable') return { key: 'loginUnreachable' };
    if (failure.kind === 'portal') return { key: failure.reason === 'no-access' ? 'ssoNoAccess' : 'ssoEnded' };
    const why = failure.failure ? X.saslFailure(failure.failure, this.lang) : { badCredentials: true as const };
    return 'text' in why ? { raw: why.text } : { key: 'loginBadCredentials' };
  }

  private websocketUrl(): string {
    const ws = this.config.websocket;
    if (/^wss?:/.test(ws)) return ws;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${ws.startsWith('/') ? ws : `/${ws}`}`;
  }

  /** « Se déconnecter »: nothing of the account stays in this browser. */
  logout(): void {
    forgetBrowser();
    if (this.link.viaPortal) {
      // The browser's portal session for the chat ends too (the portal's own stays).
      void fetch('/sso/logout', { method: 'POST', credentials: 'same-origin', keepalive: true }).catch(() => {});
    }
    if (this.link.connected) {
      // Signing out forgets the open rooms (« Mes conversations » opens them again).
      try {
        const forget = X.privateSet(X.roomsElement([]));
        forget.setAttribute('id', newId());
        this.link.send(forget);
      } catch {
        // The connection is going away anyway.
      }
    }
    this.link.stop();
    this.status = 'signed-out';
    this.loginError = undefined;
    this.jid = this.bare = this.myName = '';
    this.profile = undefined;
    this.myShow = 'available';
    this.autoAway = false;
    this.roster = new Roster();
    this.rooms.reset();
    this.conversations = [];
    this.activeConversation = undefined;
    this.notices = [];
    this.vcardAsked = new Set();
    this.deleting = new Set();
    this.storage = undefined;
    this.mamResults = new Map();
    this.prefs = {};
    this.changed();
  }

  private online(jid: string, reconnected: boolean): void {
    this.jid = jid;
    this.bare = bareJid(jid);
    const storage = new AccountData((s) => this.iq(s));
    this.storage = storage;
    this.status = 'online';
    // What earlier versions of the client kept in the browser goes.
    forgetBrowser();
    this.link.on((s) => this.onRosterPush(s), NS.ROSTER, 'iq', 'set');
    this.link.on((s) => this.onPresence(s), null, 'presence', null);
    this.link.on((s) => this.onMessage(s), null, 'message', null);
    this.changed();
    // Carbons first, so that no message of the other resources is missed.
    this.iq(X.carbonsEnable()).catch(() => undefined);
    void this.upload.discover();
    // The account's data first (the state chosen last time goes in the first presence).
    const data = Promise.all([
      storage.categories(),
      reconnected ? Promise.resolve(undefined) : storage.prefs(),
      reconnected ? Promise.resolve([]) : storage.rooms(),
    ]).then(([categories, prefs, rooms]) => {
      if (this.storage !== storage) return;
      this.roster.savedCategories = categories;
      if (prefs) {
        this.prefs = prefs;
        // The state chosen last time (« Absent » by inactivity is not a choice).
        const show = prefs.show;
        this.myShow = show === 'away' || show === 'dnd' ? show : 'available';
        this.autoAway = false;
      }
      if (!reconnected) this.rooms.load(rooms);
    });
    const roster = this.iq(X.rosterGet()).then((result) => {
      if (this.storage !== storage) return;
      this.roster.contacts.clear();
      for (const item of X.parseRoster(result)) this.applyItem(item);
      for (const c of this.roster.contacts.values()) this.fetchName(c.jid);
    });
    void Promise.allSettled([data, roster]).then(() => {
      if (this.storage !== storage) return;
      this.sendPresence();
      this.rooms.rejoin();
      // What was said while the connection was down (to another device).
      if (reconnected) for (const c of this.conversations) if (c.kind === 'chat') void this.loadHistory(c, true);
      this.changed();
    });
    // Our own card: the directory's name, and profile (which the screens speak by).
    this.iq(X.vcardGet(this.bare))
      .then((card) => {
        this.myName = X.parseVcardName(card) ?? this.myName;
        this.profile = X.parseVcardProfile(card) ?? null;
        this.changed();
      })
      .catch(() => {
        this.profile = null;
        this.changed();
      });
    if (reconnected) this.notify({ key: 'connectionBack' }, 'info', true);
  }

  /** An IQ; rejects with an ActionError saying why. */
  iq(stanza: Element): Promise<Element> {
    return this.link.iq(stanza).catch((e: unknown) => {
      throw new ActionError(sayError(e, this.lang));
    });
  }

  /** Sends a stanza; throws an ActionError when there is no connection. */
  send(stanza: Element): void {
    try {
      this.link.send(stanza);
    } catch (e) {
      throw new ActionError(sayError(e, this.lang));
    }
  }

  // --------------------------------------------------------------- presence
  /** The state chosen in the header: sent, and remembered for the next login. */
  setShow(show: Show): void {
    this.myShow = show;
    this.autoAway = false;
    this.setPrefs({ show });
    this.sendPresence();
    this.changed();
  }

  /**
   * No activity for the configured delay: « Disponible » becomes « Absent »
   * (not remembered); activity again brings « Disponible » back. A state
   * chosen by hand (« Absent », « Ne pas déranger ») is left alone.
   */
  setIdle(idle: boolean): void {
    if (idle && this.status === 'online' && this.myShow === 'available') {
      this.autoAway = true;
      this.myShow = 'away';
    } else if (!idle && this.autoAway) {
      this.autoAway = false;
      this.myShow = 'available';
    } else {
      return;
    }
    this.sendPresence();
    this.changed();
  }

  /** Minutes without activity before « Absent » (0: never). */
  awayAfter(): number {
    const n = this.prefs.awayAfter;
    return typeof n === 'number' && n >= 0 ? n : DEFAULT_AWAY_AFTER;
  }

  private sendPresence(): void {
    if (!this.link.connected) return;
    this.link.send(X.presence(this.myShow, { priority: 1 }));
    // The rooms' participants see our state too.
    this.rooms.sendPresence(this.myShow);
  }

  private onPresence(stanza: Element): boolean {
    const from = stanza.getAttribute('from') ?? '';
    const bare = bareJid(from);
    const type = stanza.getAttribute('type');
    if (bare === this.bare) return true;
    if (this.rooms.isRoom(bare)) {
      this.rooms.onPresence(stanza);
      return true;
    }
    switch (type) {
      case null:
      case 'unavailable':
        this.roster.setPresence(
          bare,
          resourceOf(from),
          type === 'unavailable' ? undefined : { show: X.showOf(stanza), priority: X.priorityOf(stanza) },
        );
        this.changed();
        break;
      case 'subscribe': {
        const contact = this.roster.contacts.get(bare);
        if (contact && (contact.ask || contact.subscription === 'to')) {
          // We asked first: this is the answer of someone who accepted.
          this.send(X.presenceOfType('subscribed', bare));
        } else if (!this.roster.requests.includes(bare)) {
          this.roster.requests = [...this.roster.requests, bare];
          this.fetchName(bare);
          this.changed();
        }
        break;
      }
      case 'unsubscribe':
        // The contact stopped seeing us; a request of theirs is withdrawn.
        this.roster.requests = this.roster.requests.filter((r) => r !== bare);
        this.changed();
        break;
      case 'unsubscribed':
        this.roster.presence.delete(bare);
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
    const before = this.roster.groupCounts();
    const items = X.parseRoster(stanza);
    for (const item of items) this.applyItem(item);
    this.send(X.iqResult(stanza.getAttribute('id') ?? ''));
    const after = this.roster.groupCounts();
    const removal = items.some((i) => i.subscription === 'remove');
    for (const [group, n] of before) {
      if (n === 0 || after.has(group)) continue;
      if (this.deleting.has(group)) {
        // Deleted or renamed on purpose: nothing to say.
        this.deleting.delete(group);
      } else if (removal) {
        // The seed: a category left empty by a contact's removal disappears, with a message.
        if (this.roster.savedCategories.includes(group)) {
          this.roster.savedCategories = this.roster.savedCategories.filter((c) => c !== group);
          this.saveCategories();
        }
        this.notify({ key: 'categoryRemoved', params: { name: group } });
      } else if (!this.roster.savedCategories.includes(group)) {
        // Emptied by another client, and not kept: gone.
        this.notify({ key: 'categoryRemoved', params: { name: group } });
      }
    }
    this.changed();
    return true;
  }

  private applyItem(item: X.RosterItem): void {
    this.roster.apply(item);
    if (item.subscription !== 'remove') this.fetchName(item.jid);
  }

  // ------------------------------------------------------------- categories
  /** Writes the list of categories to the server (private storage); says when it fails. */
  private saveCategories(): void {
    this.storage?.saveCategories(this.roster.savedCategories).catch((e) => this.fail(e));
  }

  /**
   * A category's name as typed, checked; throws an ActionError with the
   * reason. `reserved`: the names of the tree's own lists, in the user's
   * language; `renaming`: the category being renamed (its own name is free).
   */
  private categoryName(rawName: string, reserved: string[], renaming?: string): string {
    const name = rawName.trim().replace(/\s+/g, ' ');
    if (!name) throw new ActionError({ key: 'categoryNameMissing' });
    if (name.length > X.MAX_CATEGORY) throw new ActionError({ key: 'categoryTooLong', params: { n: X.MAX_CATEGORY } });
    if (reserved.some((r) => byName(r, name) === 0)) {
      throw new ActionError({ key: 'categoryReserved', params: { name } });
    }
    if (this.categories().some((c) => c !== renaming && byName(c, name) === 0)) {
      throw new ActionError({ key: 'categoryExists', params: { name } });
    }
    return name;
  }

  /** « Créer une catégorie »; throws an ActionError with the reason. */
  createCategory(rawName: string, reserved: string[] = []): string {
    const name = this.categoryName(rawName, reserved);
    if (this.categories().length >= X.MAX_CATEGORIES) {
      throw new ActionError({ key: 'categoryTooMany', params: { n: X.MAX_CATEGORIES } });
    }
    this.roster.savedCategories = [...this.roster.savedCategories, name];
    this.saveCategories();
    this.changed();
    return name;
  }

  /** « Supprimer catégorie »: its contacts move to « Autres contacts ». */
  async deleteCategory(name: string): Promise<void> {
    this.roster.savedCategories = this.roster.savedCategories.filter((c) => c !== name);
    this.saveCategories();
    const members = this.contactsIn(name);
    if (members.length > 0) this.deleting.add(name);
    this.changed();
    await Promise.all(
      members.map((c) => this.iq(X.rosterSet({ ...c, groups: c.groups.filter((g) => g !== name) }))),
    );
  }

  /**
   * « Renommer la catégorie »: the new name in the list (same place) and on
   * each of its contacts. Throws an ActionError with the reason; returns the name.
   */
  async renameCategory(from: string, rawName: string, reserved: string[] = []): Promise<string> {
    const name = this.categoryName(rawName, reserved, from);
    if (name === from) return name;
    const saved = this.roster.savedCategories;
    this.roster.savedCategories = saved.includes(from)
      ? saved.map((c) => (c === from ? name : c))
      : [...saved, name];
    this.saveCategories();
    const members = this.contactsIn(from);
    if (members.length > 0) this.deleting.add(from);
    this.changed();
    await Promise.all(
      members.map((c) => {
        const groups = c.groups.map((g) => (g === from ? name : g));
        return this.iq(X.rosterSet({ jid: c.jid, name: c.name, groups: [...new Set(groups)] }));
      }),
    );
    return name;
  }

  /**
   * « Déplacer vers… » (or a drop on a category): the contact leaves `from`
   * (null: « Autres contacts », which is no category) for `to` (null: none).
   * The category left keeps existing, even empty.
   */
  async moveContact(jid: string, from: string | null, to: string | null): Promise<void> {
    const c = this.roster.contacts.get(bareJid(jid));
    if (!c || from === to) return;
    let groups = c.groups.filter((g) => g !== from);
    if (to !== null && !groups.includes(to)) groups = [...groups, to];
    const keep = [from, to].filter((g): g is string => g !== null && !this.roster.savedCategories.includes(g));
    if (keep.length > 0) {
      this.roster.savedCategories = [...this.roster.savedCategories, ...keep];
      this.saveCategories();
    }
    await this.iq(X.rosterSet({ jid: c.jid, name: c.name, groups }));
  }

  // --------------------------------------------------------------- contacts
  /** Directory search (XEP-0055 on search.DOMAIN, free-text field). */
  async search(text: string): Promise<SearchHit[]> {
    const result = await this.iq(X.searchIq(`search.${this.config.domain}`, text));
    return X.parseSearch(result, this.bare);
  }

  /** « Ajouter le contact »: adds to `category` (null: « Autres contacts ») and asks. */
  async addContact(hit: SearchHit, category: string | null): Promise<void> {
    const existing = this.roster.contacts.get(hit.jid);
    const groups = existing ? [...existing.groups] : [];
    if (category && !groups.includes(category)) groups.push(category);
    await this.iq(X.rosterSet({ jid: hit.jid, name: hit.name || existing?.name, groups }));
    this.roster.names.set(hit.jid, hit.name);
    this.send(X.presenceOfType('subscribe', hit.jid));
    if (this.roster.requests.includes(hit.jid)) {
      // They asked us too: adding them is accepting.
      this.send(X.presenceOfType('subscribed', hit.jid));
      this.roster.requests = this.roster.requests.filter((r) => r !== hit.jid);
    }
    this.changed();
  }

  /**
   * « Signaler »: a report to the school's staff (XEP-0377 without blocking);
   * the server confirms, the reported person is not told.
   */
  async report(jid: string, reason: X.ReportReason, text: string, stanzaIds: string[] = []): Promise<void> {
    await this.iq(X.reportIq(jid, reason, text, stanzaIds));
  }

  /** « Supprimer contact »: removed on both sides by the server. */
  async removeContact(jid: string): Promise<void> {
    await this.iq(X.rosterRemove(jid));
  }

  /** « Accepter »: lets the requester see us and asks to see them. */
  accept(jid: string): void {
    this.send(X.presenceOfType('subscribed', jid));
    const contact = this.roster.contacts.get(jid);
    if (!contact || contact.subscription === 'none' || contact.subscription === 'from') {
      if (!contact?.ask) this.send(X.presenceOfType('subscribe', jid));
    }
    this.roster.requests = this.roster.requests.filter((r) => r !== jid);
    this.changed();
  }

  /** « Refuser »: the requester's item reads « Invitation refusée ». */
  refuse(jid: string): void {
    this.send(X.presenceOfType('unsubscribed', jid));
    this.roster.requests = this.roster.requests.filter((r) => r !== jid);
    this.changed();
  }

  fetchName(jid: string): void {
    if (this.vcardAsked.has(jid) || this.roster.contacts.get(jid)?.name) return;
    this.vcardAsked.add(jid);
    this.vcard(jid).then((fn) => {
      if (fn) {
        this.roster.names.set(jid, fn);
        this.changed();
      }
    });
  }

  private async vcard(jid: string): Promise<string | undefined> {
    try {
      return X.parseVcardName(await this.iq(X.vcardGet(jid)));
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------- conversations
  conversation(jid: string): Conversation | undefined {
    return this.conversations.find((c) => c.jid === jid);
  }

  /** Opens (or shows) the 1:1 conversation with `jid`; its history comes from the server's archive. */
  openConversation(jid: string, activate = true): Conversation {
    const bare = bareJid(jid);
    let conv = this.conversation(bare);
    if (!conv) {
      conv = { jid: bare, kind: 'chat', lines: [], unread: 0, draft: '', seen: new Set() };
      this.conversations = [...this.conversations, conv];
      this.fetchName(bare);
      void this.loadHistory(conv);
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
    if (conv?.kind === 'room') this.rooms.leave(conv);
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

  /** Adds a line at the end of a conversation. */
  addLine(conv: Conversation, line: Omit<Line, 'id'> & { id?: string }): void {
    conv.lines = [...conv.lines, { ...line, id: line.id || newId() }];
  }

  /**
   * The message known by `sid` (a room's stanza-id; a 1:1 message's
   * origin-id, XEP-0424) was deleted by the moderators: its line says so, its
   * text is dropped.
   */
  retractLine(conv: Conversation, sid: string): void {
    let hit = false;
    conv.lines = conv.lines.map((l) => {
      if (l.sid !== sid && l.id !== sid && l.origin !== sid) return l;
      if (l.kind !== 'in' && l.kind !== 'out') return l;
      hit = true;
      const { text: _gone, ...rest } = l;
      return { ...rest, retracted: true };
    });
    if (hit) this.changed();
  }

  sendMessage(jid: string, text: string): void {
    const body = text.replace(/^\s*\n|\s+$/g, '');
    if (!body.trim()) return;
    const existing = this.conversation(jid);
    if (existing?.kind === 'room') {
      this.rooms.sendMessage(existing, body);
      return;
    }
    const conv = this.openConversation(jid);
    const id = newId();
    this.send(X.chatMessage(jid, id, body));
    conv.seen?.add(originKey(true, id));
    this.addLine(conv, { id, kind: 'out', text: body, time: new Date() });
    conv.draft = '';
    this.changed();
  }

  /** Sends a file (XEP-0363) to conversation `jid`; rejects with an ActionError. */
  sendFile(jid: string, file: File): Promise<void> {
    return this.upload.send(jid, file);
  }

  /** A shared file's URL, sent in conversation `jid` (XEP-0066 too in 1:1). */
  sendFileUrl(jid: string, url: string, id: string): void {
    const existing = this.conversation(jid);
    if (existing?.kind === 'room') {
      this.rooms.sendMessage(existing, url);
      return;
    }
    const conv = this.openConversation(jid);
    this.send(fileMessage(jid, id, url));
    this.addLine(conv, { id, kind: 'out', text: url, time: new Date() });
    this.changed();
  }

  private onMessage(stanza: Element): boolean {
    const from = bareJid(stanza.getAttribute('from') ?? '');
    if (!from) return true;
    if (from === this.bare) {
      const archived = child(stanza, 'result', NS.MAM);
      if (archived) this.mamResults.get(archived.getAttribute('queryid') ?? '')?.push(archived);
      else this.onCarbon(stanza);
      return true;
    }
    if (this.rooms.isRoom(from)) {
      this.rooms.onMessage(stanza);
      return true;
    }
    const moderated = X.moderatedRetraction(stanza);
    if (moderated && from === this.bare.slice(this.bare.indexOf('@') + 1)) {
      // Our server: the school's staff deleted a 1:1 message (both archives hold its stanza-id).
      for (const conv of this.conversations) if (conv.kind === 'chat') this.retractLine(conv, moderated);
      return true;
    }
    if (from === this.config.domain) {
      this.onServerNotice(stanza);
      return true;
    }
    const direct = child(stanza, 'x', NS.CONFERENCE);
    if (direct && stanza.getAttribute('type') !== 'error') {
      // A direct invitation (XEP-0249), from another client.
      const room = bareJid(direct.getAttribute('jid') ?? '');
      if (this.rooms.isRoom(room)) {
        this.rooms.addInvite({
          room,
          from,
          say: { key: 'roomInvitedBy', params: { name: this.displayName(from) } },
          reason: direct.getAttribute('reason') || undefined,
        });
      }
      return true;
    }
    this.onChatMessage(stanza);
    return true;
  }

  /** What the server itself says: quiet hours and the kill switch (docs/safety.md). */
  private onServerNotice(stanza: Element): void {
    const n = X.parseSafetyNotice(stanza);
    if (!n) return;
    if (n.kind === 'shutdown') {
      this.shutdown = n.mode === 'normal' ? undefined : { mode: n.mode, text: n.text };
    } else if (n.state === 'on') {
      this.quiet = { until: n.until ?? '' };
    } else if (n.state === 'off') {
      this.quiet = undefined;
    } else if (n.jid) {
      // Our message to someone in quiet hours: kept, delivered when they end.
      const conv = this.openConversation(n.jid, false);
      this.addLine(conv, {
        kind: 'event',
        say: { key: 'quietHeld', params: { name: this.displayName(n.jid), until: n.until ?? '' } },
        time: new Date(),
      });
    }
    this.changed();
  }

  /** A 1:1 message (or its error) from a contact. */
  private onChatMessage(stanza: Element): void {
    const from = bareJid(stanza.getAttribute('from') ?? '');
    const type = stanza.getAttribute('type') ?? 'normal';
    if (type === 'error') {
      const conv = this.openConversation(from, false);
      this.addLine(conv, {
        kind: 'error',
        say: { key: 'notDelivered', params: { reason: describeError(stanza, this.lang) } },
        time: new Date(),
      });
      this.changed();
      return;
    }
    if (type !== 'chat' && type !== 'normal') return;
    const body = X.bodyOf(stanza, this.lang);
    if (!body) return;
    const conv = this.openConversation(from, false);
    // The same message may come twice (to this resource and as a carbon), and from the archive.
    const sid = X.stanzaIdBy(stanza, this.bare);
    if (!this.firstSight(conv, false, sid, X.originIdOf(stanza))) return;
    const id = sid ?? X.originIdOf(stanza) ?? newId();
    this.addLine(conv, { id, sid, origin: X.originIdOf(stanza), kind: 'in', text: body, time: X.stampOf(stanza) ?? new Date() });
    if (this.activeConversation !== from || this.hidden) {
      conv.unread += 1;
      this.announce(conv, conv.lines[conv.lines.length - 1]);
    }
    this.changed();
  }

  /** XEP-0280: what another resource of ours sent or received. */
  private onCarbon(stanza: Element): void {
    const carbon = X.parseCarbon(stanza);
    if (!carbon) return;
    const inner = carbon.message;
    if (carbon.direction === 'received') {
      if (!this.rooms.isRoom(bareJid(inner.getAttribute('from') ?? ''))) this.onChatMessage(inner);
      return;
    }
    const to = bareJid(inner.getAttribute('to') ?? '');
    const body = X.bodyOf(inner, this.lang);
    if (!to || !body || this.rooms.isRoom(to) || inner.getAttribute('type') !== 'chat') return;
    const conv = this.openConversation(to, false);
    // The server puts the id our archive keeps it under (the recipient's stanza-id) on the copy.
    const sid = X.stanzaIdBy(inner, to);
    const origin = X.originIdOf(inner);
    if (!this.firstSight(conv, true, sid, origin)) return;
    this.addLine(conv, { id: sid ?? origin ?? newId(), sid, origin, kind: 'out', text: body, time: X.stampOf(inner) ?? new Date() });
    this.changed();
  }

  /**
   * Whether a 1:1 message is new to the conversation (not yet shown, live or
   * from the archive), known by its archive's stanza-id or its origin-id;
   * remembers it. A line shown before its stanza-id was known learns it.
   */
  private firstSight(conv: Conversation, out: boolean, sid?: string, origin?: string): boolean {
    const seen = (conv.seen ??= new Set());
    const known = (sid !== undefined && seen.has(`s:${sid}`)) || (origin !== undefined && seen.has(originKey(out, origin)));
    if (sid !== undefined) {
      seen.add(`s:${sid}`);
      if (known && origin !== undefined) {
        const line = conv.lines.find((l) => l.kind === (out ? 'out' : 'in') && l.id === origin && !l.sid);
        if (line) line.sid = sid;
      }
    }
    if (origin !== undefined) seen.add(originKey(out, origin));
    return !known;
  }

  /**
   * A page of the archive of the 1:1 conversation (XEP-0313 at our bare JID,
   * `with` the contact, paged by XEP-0059): the last page when the
   * conversation opens (`catchUp`: again after a reconnection, to add what
   * was said meanwhile), or the page before the oldest message shown
   * (« Messages précédents »).
   */
  async loadHistory(conv: Conversation, catchUp = false, older = false): Promise<void> {
    if (conv.kind !== 'chat' || (older && conv.loadingOlder)) return;
    const before = older ? conv.lines.find((l) => l.sid)?.sid : undefined;
    const queryid = newId();
    this.mamResults.set(queryid, []);
    conv.loadingOlder = true;
    this.changed();
    try {
      const result = await this.iq(X.mamBefore(undefined, queryid, CHAT_HISTORY, before, conv.jid));
      const results = this.mamResults.get(queryid) ?? [];
      const found: Line[] = [];
      for (const r of results) {
        const a = X.parseArchivedChat(r, this.bare, this.lang);
        if (!a || a.peer !== conv.jid || !this.firstSight(conv, a.out, a.id, a.originId)) continue;
        found.push({
          id: a.id,
          sid: a.id,
          origin: a.originId,
          kind: a.out ? 'out' : 'in',
          ...(a.retracted ? { retracted: true } : { text: a.body }),
          time: a.time ?? new Date(),
        });
      }
      if (catchUp) {
        // Said meanwhile: in time order with what is shown.
        conv.lines = [...conv.lines, ...found].sort((a, b) => a.time.getTime() - b.time.getTime());
      } else {
        // Older than anything shown (what came live since the query is not in it, or is known).
        conv.lines = [...found, ...conv.lines];
        conv.historyComplete = X.mamComplete(result) || results.length === 0;
      }
    } catch (e) {
      if (older) this.addLine(conv, { kind: 'error', say: sayError(e, this.lang), time: new Date() });
    } finally {
      this.mamResults.delete(queryid);
      conv.loadingOlder = false;
      this.changed();
    }
  }

  /** « Messages précédents »: the page of the archive before the oldest message shown. */
  loadOlder(jid: string): Promise<void> {
    const conv = this.conversation(jid);
    if (!conv) return Promise.resolve();
    if (conv.kind === 'room') return this.rooms.loadOlder(jid);
    return this.loadHistory(conv, false, true);
  }
}

/** How a message is known by its origin-id: ours and theirs apart. */
const originKey = (out: boolean, origin: string) => `${out ? 'o' : 'i'}:${origin}`;
