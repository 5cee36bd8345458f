// What the client keeps for an account: on the server, never in the browser.
// XEP-0049 private storage (`jabber:iq:private`), one element each:
// - `<categories xmlns='urn:causerie:categories:0'>`: the categories, empty
//   ones included (a roster group cannot be empty);
// - `<rooms xmlns='urn:causerie:rooms:0'>`: the conversations with several
//   people open in the client, joined again at the next login;
// - `<prefs xmlns='urn:causerie:prefs:0'>`: the user's settings (chosen
//   state, inactivity delay, notifications, sound).
// The 1:1 history is the server's archive (XEP-0313), the rooms' their own.
// So « Se déconnecter » leaves nothing of the account in this browser:
// `forgetBrowser` also removes what earlier versions of the client kept in
// `localStorage` (keys `causerie:…`).

import * as X from '../xmpp/stanzas';

export interface Prefs {
  /** The state chosen in the header, restored at login. */
  show?: 'available' | 'away' | 'dnd';
  /** Minutes without activity before « Absent » (0: never). */
  awayAfter?: number;
  /** Desktop notifications of new messages while the window is hidden. */
  notify?: boolean;
  /** A sound with them. */
  sound?: boolean;
}

export interface StoredRoom {
  jid: string;
  title?: string;
}

/** The settings read back from their attributes; anything odd is left out. */
export function prefsOf(raw: Record<string, string>): Prefs {
  const prefs: Prefs = {};
  if (raw.show === 'available' || raw.show === 'away' || raw.show === 'dnd') prefs.show = raw.show;
  const away = Number(raw.awayAfter);
  if (raw.awayAfter !== undefined && Number.isInteger(away) && away >= 0 && away <= 24 * 60) prefs.awayAfter = away;
  if (raw.notify === 'true' || raw.notify === 'false') prefs.notify = raw.notify === 'true';
  if (raw.sound === 'true' || raw.sound === 'false') prefs.sound = raw.sound === 'true';
  return prefs;
}

/** The server's copy of an account's client data; `iq` sends an IQ and resolves with its result. */
export class AccountData {
  /** Writes go one after the other, so that the last one stays. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly iq: (stanza: Element) => Promise<Element>) {}

  private async get<T>(name: string, ns: string, parse: (r: Element) => T, empty: T): Promise<T> {
    try {
      return parse(await this.iq(X.privateGet(name, ns)));
    } catch {
      return empty;
    }
  }

  categories(): Promise<string[]> {
    return this.get('categories', X.NS.CATEGORIES, X.parseCategories, []);
  }

  rooms(): Promise<StoredRoom[]> {
    return this.get('rooms', X.NS.ROOMS, X.parseRooms, []);
  }

  prefs(): Promise<Prefs> {
    return this.get('prefs', X.NS.PREFS, (r) => prefsOf(X.parsePrefs(r)), {});
  }

  private write(payload: Element): Promise<void> {
    const next = this.queue.then(() => this.iq(X.privateSet(payload)));
    this.queue = next.catch(() => undefined);
    return next.then(() => undefined);
  }

  saveCategories(list: string[]): Promise<void> {
    return this.write(X.categoriesElement(list));
  }

  saveRooms(list: StoredRoom[]): Promise<void> {
    return this.write(X.roomsElement(list));
  }

  savePrefs(prefs: Prefs): Promise<void> {
    return this.write(X.prefsElement({ ...prefs }));
  }
}

/**
 * Removes what earlier versions of the client kept in this browser
 * (`localStorage`, keys `causerie:…`: 1:1 history, categories, rooms,
 * settings). Never throws.
 */
export function forgetBrowser(): void {
  try {
    const doomed: string[] = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith('causerie:')) doomed.push(k);
    }
    for (const k of doomed) localStorage.removeItem(k);
  } catch {
    // No storage here: nothing to forget.
  }
}
