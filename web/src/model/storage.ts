// What the client keeps in this browser (localStorage), per account:
// - `categories`: categories created here that have no contact yet (a roster
//   group cannot be empty on the server);
// - `rooms`: the rooms open here, joined again at the next login;
// - `history:PEER`: the last lines of each 1:1 conversation (the server keeps
//   no archive of them yet);
// - `prefs`: the user's settings (chosen state, inactivity delay,
//   notifications), which hold nothing of the conversations.
// « Se déconnecter » forgets all but the settings (`forgetConversations`).
// Nothing here throws: private browsing or a full storage just keeps nothing.

const PREFIX = 'causerie:';

function read(key: string): unknown {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}

function write(key: string, value: unknown): void {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Not kept.
  }
}

export interface StoredLine {
  id: string;
  kind: 'in' | 'out';
  text: string;
  time: string;
}

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

export class AccountStorage {
  constructor(readonly account: string) {}

  private key(what: string): string {
    return `${what}:${this.account}`;
  }

  categories(): string[] {
    const list = read(this.key('categories'));
    return Array.isArray(list) ? list.filter((c): c is string => typeof c === 'string') : [];
  }

  saveCategories(list: string[]): void {
    write(this.key('categories'), list);
  }

  rooms(): { jid: string; title?: string }[] {
    const list = read(this.key('rooms'));
    if (!Array.isArray(list)) return [];
    return list
      .filter((r) => r && typeof r.jid === 'string')
      .map((r) => ({ jid: r.jid as string, title: typeof r.title === 'string' ? r.title : undefined }));
  }

  saveRooms(list: { jid: string; title?: string }[]): void {
    write(this.key('rooms'), list);
  }

  history(peer: string): StoredLine[] {
    const list = read(`history:${this.account}:${peer}`);
    if (!Array.isArray(list)) return [];
    return list.filter(
      (l): l is StoredLine =>
        !!l &&
        typeof l.id === 'string' &&
        typeof l.text === 'string' &&
        typeof l.time === 'string' &&
        (l.kind === 'in' || l.kind === 'out'),
    );
  }

  saveHistory(peer: string, lines: StoredLine[]): void {
    write(`history:${this.account}:${peer}`, lines);
  }

  prefs(): Prefs {
    const p = read(this.key('prefs'));
    return p && typeof p === 'object' ? (p as Prefs) : {};
  }

  savePrefs(prefs: Prefs): void {
    write(this.key('prefs'), prefs);
  }

  /** Everything of the account's conversations and contacts; only the settings stay. */
  forgetConversations(): void {
    try {
      const doomed: string[] = [];
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (
          k &&
          (k === PREFIX + this.key('categories') ||
            k === PREFIX + this.key('rooms') ||
            k.startsWith(`${PREFIX}history:${this.account}:`))
        ) {
          doomed.push(k);
        }
      }
      for (const k of doomed) localStorage.removeItem(k);
    } catch {
      // Nothing kept, nothing to forget.
    }
  }
}
