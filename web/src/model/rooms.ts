// The seed's conversations with several people are XEP-0045 rooms on
// conference.DOMAIN, members-only. « Commencer conversation »: a name from
// the service (XEP-0307), a join (the room is made locked: status 201 and
// « Le salon de discussion est verrouillé… »), the configuration form with
// the conversation's name (« …maintenant déverrouillé »), then a mediated
// invitation of the contact, which makes them a member. An invitation is
// accepted by joining and refused by a decline. The creator is the room's
// owner and removes someone by role `none` (status 307); the room tells
// the removed person why. Rooms open in the client are remembered on the
// server (storage.ts: private storage) and joined again at the next login; joining sends the room's
// last messages (its history), « Messages précédents » pages through its
// archive (XEP-0313).

import type { Say } from '../i18n';
import { byName } from '../shared/i18n';
import * as X from '../xmpp/stanzas';
import { NS, type Show, bareJid, child, resourceOf } from '../xmpp/stanzas';
import type { Link } from '../xmpp/connection';
import { ActionError, type Conversation, type Line, type Notice, type Occupant, describeError, newId, sayError } from './conversation';
import type { AccountData } from './storage';

/**
 * What the rooms need of the model (index.ts's `Model` is one): its
 * connection, its conversations and how it tells the screens. Declared here,
 * so that this file does not import the model that imports it.
 */
export interface RoomsHost {
  readonly config: { domain: string };
  readonly lang: string;
  readonly link: Pick<Link, 'connected' | 'send'>;
  readonly bare: string;
  readonly myName: string;
  readonly myShow: Show;
  readonly hidden: boolean;
  activeConversation?: string;
  readonly storage?: AccountData;
  conversations: Conversation[];
  conversation(jid: string): Conversation | undefined;
  showConversation(jid: string): void;
  addLine(conv: Conversation, line: Omit<Line, 'id'> & { id?: string }): void;
  retractLine(conv: Conversation, sid: string): void;
  iq(stanza: Element): Promise<Element>;
  send(stanza: Element): void;
  changed(): void;
  notify(say: Say, kind?: Notice['kind'], transient?: boolean): void;
  announce(conv: Conversation, line: Line): void;
  fetchName(jid: string): void;
  displayName(jid: string): string;
}

/** Messages a room sends on joining (its history), and per page of its archive. */
export const ROOM_HISTORY = 50;

/** An invitation to a room (« Mes demandes »). */
export interface RoomInvite {
  room: string;
  from: string;
  say: Say;
  reason?: string;
}

export class Rooms {
  /** Invitations to rooms received, oldest first. */
  invites: RoomInvite[] = [];
  /** Invitations sent, by stanza id: the room and whom (for a refusal's message). */
  private invitesSent = new Map<string, { room: string; jid: string }>();
  /** The archived messages of a room's MAM query under way, by query id. */
  private mamResults = new Map<string, Element[]>();

  constructor(private readonly m: RoomsHost) {}

  reset(): void {
    this.invites = [];
    this.invitesSent = new Map();
    this.mamResults = new Map();
  }

  service(): string {
    return `conference.${this.m.config.domain}`;
  }

  isRoom(jid: string): boolean {
    return jid.endsWith(`@${this.service()}`);
  }

  /** What a room's tab and heading say. */
  title(conv: Conversation): string {
    return conv.title || conv.jid.split('@')[0];
  }

  private myNick(conv: Conversation): string {
    return conv.nick || this.m.myName || this.m.bare.split('@')[0];
  }

  private conversation(room: string, title?: string): Conversation {
    let conv = this.m.conversation(room);
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
      this.m.conversations = [...this.m.conversations, conv];
    } else if (title) {
      conv.title = title;
    }
    return conv;
  }

  private join(conv: Conversation): void {
    if (!this.m.link.connected) return;
    conv.state = 'joining';
    conv.occupants = new Map();
    conv.joinHistory = 0;
    this.m.link.send(X.joinRoom(conv.jid, this.myNick(conv), this.m.myShow, ROOM_HISTORY));
  }

  /** Joins again the rooms one was in (after a login or a reconnection). */
  rejoin(): void {
    for (const c of this.m.conversations) {
      if (c.kind === 'room' && (c.state === 'joined' || c.state === 'joining')) this.join(c);
    }
  }

  /** Our state, to every room we are in. */
  sendPresence(show: Show): void {
    for (const c of this.m.conversations) {
      if (c.kind === 'room' && c.state === 'joined' && c.nick) {
        this.m.link.send(X.presence(show, { to: `${c.jid}/${c.nick}` }));
      }
    }
  }

  /** Leaves a room (its tab closes; the membership stays). */
  leave(conv: Conversation): void {
    if ((conv.state === 'joined' || conv.state === 'joining') && this.m.link.connected) {
      this.m.link.send(X.leaveRoom(conv.jid, this.myNick(conv)));
    }
    conv.state = 'left';
    this.forget(conv.jid);
  }

  sendMessage(conv: Conversation, body: string): void {
    if (conv.state !== 'joined') throw new ActionError({ key: 'roomNotIn' });
    // The room sends it back to everyone, us included: it is shown then.
    this.m.send(X.groupchatMessage(conv.jid, newId(), body));
    conv.draft = '';
    this.m.changed();
  }

  /** « Commencer conversation » with `invitee`: makes the room, names it, invites. */
  async start(rawTitle: string, invitee: string): Promise<string> {
    const title = rawTitle.trim().replace(/\s+/g, ' ');
    if (!title) throw new ActionError({ key: 'roomNameMissing' });
    const result = await this.m.iq(X.uniqueRoomName(this.service()));
    const room = X.parseUniqueRoom(result, this.service());
    if (!room) throw new ActionError({ key: 'actionFailed', params: { condition: 'unique' } });
    const conv = this.conversation(room, title);
    conv.creating = { title, invite: [invitee] };
    this.join(conv);
    this.m.showConversation(room);
    return room;
  }

  /** Submits the new room's configuration (its name), then sends the invitations. */
  private async configure(conv: Conversation): Promise<void> {
    const creating = conv.creating;
    conv.creating = undefined;
    if (!creating) return;
    try {
      await this.m.iq(X.roomConfig(conv.jid, creating.title));
    } catch (e) {
      this.m.addLine(conv, { kind: 'error', say: sayError(e, this.m.lang), time: new Date() });
      this.m.changed();
      return;
    }
    this.save();
    for (const jid of creating.invite) this.invite(conv.jid, jid);
  }

  /** « Inviter contact »: a mediated invitation; the rules may refuse it (shown in the room). */
  invite(room: string, jid: string): void {
    const id = newId();
    this.invitesSent.set(id, { room, jid });
    this.m.send(X.mediatedInvite(room, id, jid));
  }

  /** « Retirer de la conversation » (the creator only): role `none` on the nickname. */
  async removeParticipant(room: string, nick: string): Promise<void> {
    await this.m.iq(X.kick(room, nick));
  }

  /** The creator deletes a message for everyone (XEP-0425); the room's retraction hides it. */
  async deleteForEveryone(room: string, stanzaId: string): Promise<void> {
    await this.m.iq(X.moderateIq(room, stanzaId));
  }

  addInvite(invite: RoomInvite): void {
    if (this.m.conversation(invite.room)?.state === 'joined') return;
    const known = this.invites.some((i) => i.room === invite.room);
    this.invites = [...this.invites.filter((i) => i.room !== invite.room), invite];
    this.m.fetchName(invite.from);
    // Said out loud (a status message) as well as counted on « Mes demandes ».
    if (!known) this.m.notify(invite.say, 'info', true);
    this.m.changed();
  }

  /** The rooms the user is a member of, with their names (the service lists only those). */
  async mine(): Promise<{ jid: string; name: string }[]> {
    const result = await this.m.iq(X.discoItems(this.service()));
    return X.parseDiscoItems(result)
      .filter((r) => this.isRoom(r.jid))
      .sort((a, b) => byName(a.name || a.jid, b.name || b.jid));
  }

  /** Opens a room one is a member of (« Mes conversations »): joins it, with its history. */
  open(room: string, title?: string): void {
    const conv = this.conversation(room, title || undefined);
    if (conv.state !== 'joined' && conv.state !== 'joining') this.join(conv);
    this.invites = this.invites.filter((i) => i.room !== room);
    this.m.showConversation(room);
  }

  /** « Accepter » an invitation: join the room. */
  accept(room: string): void {
    this.invites = this.invites.filter((i) => i.room !== room);
    const conv = this.conversation(room);
    this.join(conv);
    this.m.showConversation(room);
    void this.fetchTitle(conv);
  }

  /** « Refuser » an invitation: a decline, which the inviter reads. */
  refuse(room: string): void {
    const invite = this.invites.find((i) => i.room === room);
    this.invites = this.invites.filter((i) => i.room !== room);
    this.m.send(X.declineInvite(room, invite?.from));
    this.m.changed();
  }

  private async fetchTitle(conv: Conversation): Promise<void> {
    try {
      const name = X.parseDiscoName(await this.m.iq(X.discoInfo(conv.jid)));
      if (name) {
        conv.title = name;
        this.save();
        this.m.changed();
      }
    } catch {
      // The room's address stays as its title.
    }
  }

  onPresence(stanza: Element): void {
    const from = stanza.getAttribute('from') ?? '';
    const room = bareJid(from);
    const nick = resourceOf(from);
    const conv = this.m.conversation(room);
    if (!conv || conv.kind !== 'room' || !conv.occupants) return;
    const type = stanza.getAttribute('type');
    const x = child(stanza, 'x', NS.MUC_USER);
    const codes = X.statusCodes(x);
    const item = child(x, 'item', NS.MUC_USER);
    const time = X.stampOf(stanza) ?? new Date();
    if (type === 'error') {
      if (conv.state === 'joining') {
        conv.state = 'left';
        this.forget(room);
        this.m.addLine(conv, {
          kind: 'error',
          say: { key: 'roomJoinFailed', params: { reason: describeError(stanza, this.m.lang) } },
          time: new Date(),
        });
        this.m.changed();
      }
      return;
    }
    if (type === 'unavailable') {
      if (codes.has(110)) {
        if (codes.has(307) || codes.has(321)) {
          conv.state = 'removed';
          this.forget(room);
        } else if (child(x, 'destroy', NS.MUC_USER)) {
          conv.state = 'removed';
          this.forget(room);
          this.m.addLine(conv, { kind: 'event', say: { key: 'roomDestroyed' }, time });
        } else if (conv.state === 'joined') {
          conv.state = 'left';
        }
        conv.occupants.clear();
      } else if (conv.occupants.delete(nick) && conv.state === 'joined') {
        // « [NOM Prénom] a quitté la conversation : [HH:MM:SS] », also when removed.
        this.m.addLine(conv, { kind: 'event', say: { key: 'roomLeft', params: { name: nick, time } }, time });
      }
      this.m.changed();
      return;
    }
    const isNew = !conv.occupants.has(nick);
    const jid = item?.getAttribute('jid');
    const occupant: Occupant = {
      nick,
      jid: jid ? bareJid(jid) : undefined,
      show: X.showOf(stanza),
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
      this.invites = this.invites.filter((i) => i.room !== room);
      if (codes.has(201) && conv.creating) {
        void this.configure(conv);
      } else if (first) {
        this.save();
        if (!conv.title) void this.fetchTitle(conv);
      }
    } else if (isNew && conv.state === 'joined') {
      // « [NOM Prénom] a rejoint la conversation | [HH:MM:SS]. »
      this.m.addLine(conv, { kind: 'event', say: { key: 'roomJoined', params: { name: nick, time } }, time });
    }
    this.m.changed();
  }

  /**
   * « Messages précédents »: the page of the room's archive (XEP-0313, paged
   * by XEP-0059) before the oldest message shown.
   */
  async loadOlder(room: string): Promise<void> {
    const conv = this.m.conversation(room);
    if (!conv || conv.kind !== 'room' || conv.loadingOlder) return;
    const oldest = conv.lines.find((l) => conv.seen?.has(l.id))?.id;
    const queryid = newId();
    this.mamResults.set(queryid, []);
    conv.loadingOlder = true;
    this.m.changed();
    try {
      const result = await this.m.iq(X.mamBefore(room, queryid, ROOM_HISTORY, oldest));
      const found = this.mamResults.get(queryid) ?? [];
      const older: Line[] = [];
      for (const r of found) {
        const a = X.parseArchived(r, this.m.lang);
        if (!a || conv.seen?.has(a.id)) continue;
        conv.seen?.add(a.id);
        older.push({
          id: a.id,
          sid: a.id,
          kind: a.nick === conv.nick ? 'out' : 'in',
          who: a.nick,
          ...(a.retracted ? { retracted: true } : { text: a.body }),
          time: a.time ?? new Date(),
        });
      }
      conv.lines = [...older, ...conv.lines];
      conv.historyComplete = X.mamComplete(result) || found.length === 0;
    } catch (e) {
      this.m.addLine(conv, { kind: 'error', say: sayError(e, this.m.lang), time: new Date() });
    } finally {
      this.mamResults.delete(queryid);
      conv.loadingOlder = false;
      this.m.changed();
    }
  }

  onMessage(stanza: Element): void {
    const from = stanza.getAttribute('from') ?? '';
    const room = bareJid(from);
    const nick = resourceOf(from);
    const type = stanza.getAttribute('type') ?? 'normal';
    const archived = child(stanza, 'result', NS.MAM);
    if (archived) {
      this.mamResults.get(archived.getAttribute('queryid') ?? '')?.push(archived);
      return;
    }
    if (child(stanza, 'subject') && !child(stanza, 'body')) {
      // The subject ends a join: fewer messages than asked means the whole history is shown.
      const joined = this.m.conversation(room);
      if (joined?.joinHistory !== undefined) {
        if (joined.joinHistory < ROOM_HISTORY) joined.historyComplete = true;
        joined.joinHistory = undefined;
        this.m.changed();
      }
      return;
    }
    const retracted = X.moderatedRetraction(stanza);
    if (retracted && !nick && type === 'groupchat') {
      // XEP-0425: a message deleted by the moderators, for everyone.
      const conv = this.m.conversation(room);
      if (conv) this.m.retractLine(conv, retracted);
      return;
    }
    const x = child(stanza, 'x', NS.MUC_USER);
    const invite = child(x, 'invite', NS.MUC_USER);
    const tombstone = X.isTombstone(stanza);
    const body = tombstone ? '' : X.bodyOf(stanza, this.m.lang);
    if (invite && type !== 'error') {
      const inviter = bareJid(invite.getAttribute('from') ?? '');
      this.addInvite({
        room,
        from: inviter,
        say: body ? { raw: body } : { key: 'roomInvitedBy', params: { name: this.m.displayName(inviter) } },
        reason: child(invite, 'reason', NS.MUC_USER)?.textContent || undefined,
      });
      return;
    }
    const conv = this.m.conversation(room);
    const time = X.stampOf(stanza) ?? new Date();
    if (type === 'error') {
      const id = stanza.getAttribute('id') ?? '';
      const sent = this.invitesSent.get(id);
      this.invitesSent.delete(id);
      const reason = describeError(stanza, this.m.lang);
      const say: Say = sent
        ? { key: 'inviteRefused', params: { name: this.m.displayName(sent.jid), reason } }
        : { key: 'notDelivered', params: { reason } };
      if (conv) {
        this.m.addLine(conv, { kind: 'error', say, time: new Date() });
        this.m.changed();
      } else {
        this.m.notify(say, 'error');
      }
      return;
    }
    if (!nick) {
      // From the room itself: the seed's events, a removal, a decline.
      if (!body) {
        if (conv && X.statusCodes(x).has(104)) void this.fetchTitle(conv);
        return;
      }
      const removed = child(child(x, 'item', NS.MUC_USER), 'actor', NS.MUC_USER);
      if (removed) {
        // « [NOM Prénom] vous a retiré de la conversation [Nom de la conversation]. »
        this.m.notify({ raw: body });
        this.invites = this.invites.filter((i) => i.room !== room);
        if (conv) {
          conv.state = 'removed';
          conv.occupants?.clear();
          this.forget(room);
        }
      }
      if (conv) {
        this.m.addLine(conv, { kind: 'event', say: { raw: body }, time });
        if (this.m.activeConversation !== room || this.m.hidden) conv.unread += 1;
      } else if (!removed) {
        this.m.notify({ raw: body });
      }
      this.m.changed();
      return;
    }
    if (type !== 'groupchat' || body === undefined || !conv || conv.kind !== 'room') return;
    const key = X.roomStanzaId(stanza, room);
    const delayed = !!child(stanza, 'delay', NS.DELAY);
    if (delayed && conv.joinHistory !== undefined) conv.joinHistory += 1;
    if (key) {
      if (conv.seen?.has(key)) return;
      conv.seen?.add(key);
    }
    this.m.addLine(conv, {
      id: key ?? undefined,
      sid: key ?? undefined,
      kind: nick === conv.nick ? 'out' : 'in',
      who: nick,
      ...(tombstone ? { retracted: true } : { text: body }),
      time,
    });
    if (!tombstone && !delayed && nick !== conv.nick && (this.m.activeConversation !== room || this.m.hidden)) {
      conv.unread += 1;
      this.m.announce(conv, conv.lines[conv.lines.length - 1]);
    }
    this.m.changed();
  }

  /** The rooms open in the client at the last sign-out (private storage), joined again at login. */
  load(rooms: { jid: string; title?: string }[]): void {
    for (const r of rooms) {
      if (this.isRoom(r.jid)) this.conversation(r.jid, r.title).state = 'joining';
    }
    if (!this.m.activeConversation && this.m.conversations[0]) {
      this.m.activeConversation = this.m.conversations[0].jid;
    }
  }

  /** Keeps the list of the rooms one is in on the server (private storage). */
  private save(except?: string): void {
    this.m.storage
      ?.saveRooms(
        this.m.conversations
          .filter((c) => c.kind === 'room' && c.jid !== except && (c.state === 'joined' || c.state === 'joining'))
          .map((c) => ({ jid: c.jid, title: c.title })),
      )
      .catch(() => undefined);
  }

  private forget(room: string): void {
    this.save(room);
  }
}
