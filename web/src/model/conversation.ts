// What the model's conversations are made of (1:1 and rooms alike), and how
// it says what went wrong: a `Say`, never a sentence of its own.

import type { Say } from '../i18n';
import { IqError, NotConnected } from '../xmpp/connection';
import { type Show, stanzaError } from '../xmpp/stanzas';

export interface Line {
  id: string;
  kind: 'in' | 'out' | 'error' | 'event';
  /** A message's text (in, out). */
  text?: string;
  /** What an event or an error says. */
  say?: Say;
  time: Date;
  /** In a room: the nickname (« NOM Prénom ») of who wrote it. */
  who?: string;
  /**
   * The id the archive keeps it under (XEP-0359 stanza-id), once known: ours for
   * a 1:1 message, the room's for a room's (what « Signaler » names).
   */
  sid?: string;
  /** A 1:1 message's XEP-0359 origin-id (or id): what a retraction names it by (XEP-0424). */
  origin?: string;
  /** Deleted by the school's moderators (XEP-0425): shown as such, its text gone. */
  retracted?: boolean;
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
  /**
   * The messages already shown: a room's stanza-ids (history comes again on
   * every join); a 1:1 conversation's stanza-ids (`s:ID`) and origin-ids
   * (`o:ID` ours, `i:ID` theirs), live or from the archive.
   */
  seen?: Set<string>;
  /** A room being made: its name, and whom to invite once it is unlocked. */
  creating?: { title: string; invite: string[] };
  /** The archive (the room's, or ours for a 1:1) has nothing older than what is shown. */
  historyComplete?: boolean;
  loadingOlder?: boolean;
  /** While joining: how many messages of its history the room sent. */
  joinHistory?: number;
}

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  say: Say;
}

/** The failure of an action, with what to tell the user. */
export class ActionError extends Error {
  constructor(readonly say: Say) {
    super('raw' in say ? say.raw : say.key);
  }
}

/** What to tell the user about an error stanza (`lang`: the user's language). */
export function describeError(stanza: Element | null, lang: string): Say {
  const { text, condition } = stanzaError(stanza, lang);
  if (text) return { raw: text };
  if (condition === 'forbidden' || condition === 'policy-violation') return { key: 'rulesRefusal' };
  return { key: 'actionFailed', params: { condition } };
}

/** What to tell the user about a failed action. */
export function sayError(e: unknown, lang: string): Say {
  if (e instanceof ActionError) return e.say;
  if (e instanceof NotConnected) return { key: 'connectionLost' };
  if (e instanceof IqError) return describeError(e.stanza, lang);
  return { raw: e instanceof Error ? e.message : String(e) };
}

let lineCounter = 0;
export const newId = () => `l${Date.now().toString(36)}${(lineCounter++).toString(36)}`;

