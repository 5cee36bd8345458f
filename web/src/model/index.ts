// The client's state and its XMPP side. The pieces:
// - ../xmpp/connection.ts: the connection (sign-in, reconnection);
// - ../xmpp/stanzas.ts: pure stanza builders and parsers (unit-tested);
// - roster.ts: contacts, presence, requests, categories (state);
// - rooms.ts: conversations with several people (XEP-0045);
// - storage.ts: what is kept in this browser;
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
// - Categories are roster groups, so an empty category cannot be stored on
//   the server: one created but still empty is kept in this browser
//   (localStorage) until a contact is added to it.
//
// A message sent from another resource of the account comes back as a carbon
// (XEP-0280). The server keeps no archive of 1:1 messages yet, so their
// history is kept in this browser (per account and contact) until
// « Se déconnecter »; rooms' history comes from the room.

import type { Say } from '../i18n';
import { byName } from '../shared/i18n';
import { Link, type LoginFailure } from '../xmpp/connection';
import * as X from '../xmpp/stanzas';
import { fileMessage } from '../xmpp/upload';
import { NS, type SearchHit, type Show, bareJid, child, resourceOf } from '../xmpp/stanzas';
import { ActionError, type Conversation, type Line, type Notice, describeError, newId, sayError } from './conversation';
import { type Contact, type ContactState, Roster } from './roster';
import { Rooms } from './rooms';
import { AccountStorage, type Prefs } from './storage';
import { Upload } from './upload';

export { bareJid, resourceOf } from '../xmpp/stanzas';
export type { SearchHit, Show } from '../xmpp/stanzas';
export type { Contact, ContactState } from './roster';
export type { RoomInvite } from './rooms';
export type { Prefs } from './storage';
export * from './conversation';

/** Minutes without activity before « Absent », unless the user set another delay. */
export const DEFAULT_AWAY_AFTER = 10;

/** Lines of a 1:1 conversation kept in the browser, per contact. */
const HISTORY_LINES = 200;

export type Status = 'signed-out' | 'connecting' | 'online' | 'reconnecting';

export interface ClientConfig {
  domain: string;
  websocket: string;
  /** The user's language (`fr`, `en`): which of the server's texts to pick. */
  lang?: string;
  /** Where the server's shared files are (XEP-0363): only those are previewed. */
  upload?: string;
}

export class Model {
  status: Status = 'signed-out';
  loginError?: Say;
  config: ClientConfig;
  readonly lang: string;

  jid = '';
  bare = '';
  myName = '';
  myShow: Show = 'available';
  /** « Absent » set by inactivity, not by the user. */
  autoAway = false;

  roster = new Roster();
  readonly rooms: Rooms;
  readonly upload: Upload;
  conversations: Conversation[] = [];
  activeConversation?: string;
  notices: Notice[] = [];
  /** The user cannot see the window (see `setHidden`). */
  hidden = false;
  /** The user's settings, kept per account in this browser. */
  prefs: Prefs = {};

  readonly link: Link;
  storage?: AccountStorage;
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
        // The password changed, or the account was closed, meanwhile.
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
    this.storage?.savePrefs(this.prefs);
    this.changed();
  }

  // ---------------------------------------------------------------- derived
  get contacts(): Map<string, Contact> {
    return this.roster.contacts;
  }

  get requests(): string[] {
    return this.roster.requests;
  }

  get localCategories(): string[] {
    return this.roster.localCategories;
  }

  displayName(jid: string): string {
    const bare = bareJid(jid);
    if (bare === this.bare && this.myName) return this.myName;
    return this.roster.contacts.get(bare)?.name || this.roster.names.get(bare) || bare.split('@')[0];
  }

  stateOf(jid: string): ContactState {
    return this.roster.stateOf(jid);
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
    return this.link.start(jid, password).catch((failure: LoginFailure) => {
      this.status = 'signed-out';
      this.loginError = this.loginFailure(failure);
      this.changed();
      throw new ActionError(this.loginError);
    });
  }

  private loginFailure(failure: LoginFailure): Say {
    if (failure.kind === 'unreachable') return { key: 'loginUnreachable' };
    const why = failure.failure ? X.saslFailure(failure.failure, this.lang) : { badCredentials: true as const };
    return 'text' in why ? { raw: why.text } : { key: 'loginBadCredentials' };
  }

  private websocketUrl(): string {
    const ws = this.config.websocket;
    if (/^wss?:/.test(ws)) return ws;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${ws.startsWith('/') ? ws : `/${ws}`}`;
  }

  /** « Se déconnecter »: nothing of the conversations stays in this browser (the settings do). */
  logout(): void {
    this.storage?.forgetConversations();
    this.link.stop();
    this.status = 'signed-out';
    this.loginError = undefined;
    this.jid = this.bare = this.myName = '';
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
    this.prefs = {};
    this.changed();
  }

  private online(jid: string, reconnected: boolean): void {
    this.jid = jid;
    this.bare = bareJid(jid);
    this.storage = new AccountStorage(this.bare);
    this.status = 'online';
    this.roster.localCategories = this.storage.categories();
    if (!reconnected) {
      this.prefs = this.storage.prefs();
      // The state chosen last time (« Absent » by inactivity is not a choice).
      const show = this.prefs.show;
      this.myShow = show === 'away' || show === 'dnd' ? show : 'available';
      this.autoAway = false;
    }
    this.link.on((s) => this.onRosterPush(s), NS.ROSTER, 'iq', 'set');
    this.link.on((s) => this.onPresence(s), null, 'presence', null);
    this.link.on((s) => this.onMessage(s), null, 'message', null);
    this.changed();
    // Carbons first, so that no message of the other resources is missed.
    this.iq(X.carbonsEnable()).catch(() => undefined);
    void this.upload.discover();
    const rejoin = () => {
      if (!reconnected) this.rooms.load();
      this.rooms.rejoin();
      this.changed();
    };
    this.iq(X.rosterGet())
      .then((result) => {
        this.roster.contacts.clear();
        for (const item of X.parseRoster(result)) this.applyItem(item);
        this.sendPresence();
        for (const c of this.roster.contacts.values()) this.fetchName(c.jid);
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
    for (const item of X.parseRoster(stanza)) this.applyItem(item);
    this.send(X.iqResult(stanza.getAttribute('id') ?? ''));
    const after = this.roster.groupCounts();
    for (const [group, n] of before) {
      if (n > 0 && !after.has(group) && !this.roster.localCategories.includes(group)) {
        if (this.deleting.has(group)) {
          this.deleting.delete(group);
        } else {
          this.notify({ key: 'categoryRemoved', params: { name: group } });
        }
      }
    }
    this.changed();
    return true;
  }

  private applyItem(item: X.RosterItem): void {
    if (this.roster.apply(item)) this.storage?.saveCategories(this.roster.localCategories);
    if (item.subscription !== 'remove') this.fetchName(item.jid);
  }

  // ------------------------------------------------------------- categories
  /**
   * « Créer une catégorie »; throws an ActionError with the reason.
   * `reserved`: the names of the tree's own lists, in the user's language.
   */
  createCategory(rawName: string, reserved: string[] = []): string {
    const name = rawName.trim().replace(/\s+/g, ' ');
    if (!name) throw new ActionError({ key: 'categoryNameMissing' });
    if (reserved.some((r) => byName(r, name) === 0)) {
      throw new ActionError({ key: 'categoryReserved', params: { name } });
    }
    if (this.categories().some((c) => byName(c, name) === 0)) {
      throw new ActionError({ key: 'categoryExists', params: { name } });
    }
    this.roster.localCategories = [...this.roster.localCategories, name];
    this.storage?.saveCategories(this.roster.localCategories);
    this.changed();
    return name;
  }

  /** « Supprimer catégorie »: its contacts move to « Autres contacts ». */
  async deleteCategory(name: string): Promise<void> {
    this.roster.localCategories = this.roster.localCategories.filter((c) => c !== name);
    this.storage?.saveCategories(this.roster.localCategories);
    const members = this.contactsIn(name);
    if (members.length > 0) this.deleting.add(name);
    this.changed();
    await Promise.all(
      members.map((c) => this.iq(X.rosterSet({ ...c, groups: c.groups.filter((g) => g !== name) }))),
    );
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

  /** Opens (or shows) the 1:1 conversation with `jid`, with its history kept in this browser. */
  openConversation(jid: string, activate = true): Conversation {
    const bare = bareJid(jid);
    let conv = this.conversation(bare);
    if (!conv) {
      const lines: Line[] = (this.storage?.history(bare) ?? []).map((l) => ({ ...l, time: new Date(l.time) }));
      conv = { jid: bare, kind: 'chat', lines, unread: 0, draft: '' };
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

  /** Adds a line; a 1:1 conversation's lines are also kept in this browser. */
  addLine(conv: Conversation, line: Omit<Line, 'id'> & { id?: string }): void {
    conv.lines = [...conv.lines, { ...line, id: line.id || newId() }];
    if (conv.kind === 'chat') this.saveHistory(conv);
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
      this.onCarbon(stanza);
      return true;
    }
    if (this.rooms.isRoom(from)) {
      this.rooms.onMessage(stanza);
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
    const body = child(stanza, 'body')?.textContent;
    if (!body) return;
    const id = stanza.getAttribute('id') || newId();
    const conv = this.openConversation(from, false);
    // The same message may come twice: to this resource and as a carbon.
    if (conv.lines.some((l) => l.kind === 'in' && l.id === id)) return;
    this.addLine(conv, { id, kind: 'in', text: body, time: X.stampOf(stanza) ?? new Date() });
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
    const body = child(inner, 'body')?.textContent;
    if (!to || !body || this.rooms.isRoom(to) || inner.getAttribute('type') !== 'chat') return;
    const id = inner.getAttribute('id') || newId();
    const conv = this.openConversation(to, false);
    if (conv.lines.some((l) => l.kind === 'out' && l.id === id)) return;
    this.addLine(conv, { id, kind: 'out', text: body, time: X.stampOf(inner) ?? new Date() });
    this.changed();
  }

  private saveHistory(conv: Conversation): void {
    this.storage?.saveHistory(
      conv.jid,
      conv.lines
        .filter((l): l is Line & { kind: 'in' | 'out'; text: string } => (l.kind === 'in' || l.kind === 'out') && l.text !== undefined)
        .slice(-HISTORY_LINES)
        .map((l) => ({ id: l.id, kind: l.kind, text: l.text, time: l.time.toISOString() })),
    );
  }
}
