// The connection: Strophe over WebSocket (RFC 7395), signing in, and coming
// back by itself after a drop (1 s, then doubling up to 30 s) for as long as
// the user stays signed in. It knows stanzas only as elements; what they mean
// is the model's business.

import { Strophe } from 'strophe.js';
import { presenceOfType } from './stanzas';

Strophe.setLogLevel(Strophe.LogLevel.WARN);

type StropheConnection = InstanceType<typeof Strophe.Connection>;

/** Why signing in failed: the server is unreachable, or it refused (with its SASL failure). */
export type LoginFailure = { kind: 'unreachable' } | { kind: 'auth'; failure?: Element };

/** An IQ answered by an error (`stanza`), or not answered at all (`stanza` null), or no connection. */
export class IqError extends Error {
  constructor(readonly stanza: Element | null) {
    super(stanza ? 'iq error' : 'no answer');
  }
}

/** Sending while there is no connection (dropped, or signed out). */
export class NotConnected extends Error {}

export interface LinkEvents {
  /** Signed in (first time, or again after a drop): handlers are to be added on `link`. */
  online(jid: string, reconnected: boolean): void;
  /** The connection dropped; a new attempt is scheduled. */
  lost(): void;
  /** A reconnection was refused (password changed, account closed): signed out. */
  refused(failure: LoginFailure): void;
}

export class Link {
  private conn?: StropheConnection;
  private jid = '';
  private password = '';
  private wanted = false;
  private timer?: number;
  private delay = 1000;

  constructor(
    private readonly url: () => string,
    private readonly events: LinkEvents,
  ) {}

  get connected(): boolean {
    return !!this.conn;
  }

  /** Signs in; resolves when online, rejects with a LoginFailure. */
  start(jid: string, password: string): Promise<void> {
    this.jid = jid;
    this.password = password;
    this.wanted = true;
    return new Promise((resolve, reject) => {
      this.connect((failure) => {
        if (!failure) {
          resolve();
          return;
        }
        this.wanted = false;
        this.password = '';
        reject(failure);
      }, false);
    });
  }

  /** Signs out: unavailable, then the stream closes; no more reconnection. */
  stop(): void {
    this.wanted = false;
    this.password = '';
    window.clearTimeout(this.timer);
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    try {
      conn.send(presenceOfType('unavailable'));
      conn.flush();
      conn.disconnect('logout');
    } catch {
      // The connection is going away anyway.
    }
  }

  send(stanza: Element): void {
    if (!this.conn) throw new NotConnected();
    this.conn.send(stanza);
  }

  iq(stanza: Element, timeout = 15000): Promise<Element> {
    return new Promise((resolve, reject) => {
      if (!this.conn) {
        reject(new NotConnected());
        return;
      }
      this.conn.sendIQ(
        stanza,
        (result) => resolve(result),
        (error) => reject(new IqError(error ?? null)),
        timeout,
      );
    });
  }

  /** A handler on the current connection (`true` from it keeps it). */
  on(handler: (stanza: Element) => boolean, ns: string | null, name: string, type: string | null): void {
    this.conn?.addHandler(handler, ns, name, type);
  }

  private connect(done: ((failure?: LoginFailure) => void) | undefined, reconnecting: boolean): void {
    const conn = new Strophe.Connection(this.url(), {});
    this.conn = conn;
    let online = false;
    const resource = `web-${Math.random().toString(36).slice(2, 8)}`;
    conn.connect(`${this.jid.split('/')[0]}/${resource}`, this.password, (status, _condition, elem) => {
      if (this.conn !== conn) return;
      switch (status) {
        case Strophe.Status.CONNECTED:
          online = true;
          this.delay = 1000;
          this.jid = conn.jid;
          this.events.online(conn.jid, reconnecting);
          done?.();
          done = undefined;
          break;
        case Strophe.Status.AUTHFAIL: {
          const report = done;
          done = undefined;
          this.conn = undefined;
          conn.disconnect('authentication failed');
          report?.({ kind: 'auth', failure: elem ?? undefined });
          break;
        }
        case Strophe.Status.CONNFAIL:
        case Strophe.Status.CONNTIMEOUT:
        case Strophe.Status.DISCONNECTED:
          if (!online && done) {
            const report = done;
            done = undefined;
            report({ kind: 'unreachable' });
          } else if (online || status === Strophe.Status.DISCONNECTED) {
            this.lost(conn);
          }
          break;
        default:
          break;
      }
    });
  }

  /** The connection dropped: try again, later and later. */
  private lost(conn: StropheConnection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (!this.wanted) return;
    this.events.lost();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      if (!this.wanted) return;
      this.connect((failure) => {
        if (!failure) return;
        if (failure.kind === 'auth') {
          this.stop();
          this.events.refused(failure);
        } else if (this.conn) {
          this.lost(this.conn);
        }
      }, true);
    }, this.delay);
    this.delay = Math.min(this.delay * 2, 30000);
  }
}
