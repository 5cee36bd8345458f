// The connection: Strophe over WebSocket (RFC 7395), signing in, and coming
// back by itself after a drop (1 s, then doubling up to 30 s) for as long as
// the user stays signed in. It knows stanzas only as elements; what they mean
// is the model's business.

import { Strophe } from 'strophe.js';
import { presenceOfType } from './stanzas';

Strophe.setLogLevel(Strophe.LogLevel.WARN);

type StropheConnection = InstanceType<typeof Strophe.Connection>;

/**
 * Why signing in failed: the server is unreachable, or it refused (with its SASL failure), or
 * the portal's single sign-on gave no token (`signed-out`: no portal session in this browser,
 * or it ended; `no-access`: the chat is not open for the account).
 */
export type LoginFailure =
  | { kind: 'unreachable' }
  | { kind: 'auth'; failure?: Element }
  | { kind: 'portal'; reason: 'signed-out' | 'no-access' };

/**
 * How to sign in: a JID and its password, or the portal's single sign-on (the server gives
 * this browser a single-use token for each login, `POST /sso/token`; docs/portal-integration.md).
 */
export type Credentials = { jid: string; password: string } | { portal: true };

/** A login token of the portal's single sign-on, or why there is none. */
async function portalToken(): Promise<{ jid: string; token: string } | LoginFailure> {
  let r: Response;
  try {
    r = await fetch('/sso/token', { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return { kind: 'unreachable' };
  }
  if (r.status === 401) return { kind: 'portal', reason: 'signed-out' };
  if (r.status === 403) return { kind: 'portal', reason: 'no-access' };
  if (!r.ok) return { kind: 'unreachable' };
  try {
    const got = (await r.json()) as { jid?: unknown; token?: unknown };
    if (typeof got.jid === 'string' && typeof got.token === 'string') return { jid: got.jid, token: got.token };
  } catch {
    // Fall through.
  }
  return { kind: 'unreachable' };
}

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
  /** Signed in through the portal: each connection takes a new token. */
  private portal = false;
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

  /** Whether this sign-in came through the portal's single sign-on. */
  get viaPortal(): boolean {
    return this.portal;
  }

  /** Signs in; resolves when online, rejects with a LoginFailure. */
  start(credentials: Credentials): Promise<void> {
    if ('portal' in credentials) {
      this.portal = true;
      this.jid = '';
      this.password = '';
    } else {
      this.portal = false;
      this.jid = credentials.jid;
      this.password = credentials.password;
    }
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
    if (!this.portal) {
      this.open(this.jid, this.password, {}, done, reconnecting);
      return;
    }
    // A placeholder while the token comes: a sign-out meanwhile (`stop`) or a newer
    // attempt replaces it, and this one then gives up.
    const pending = new Strophe.Connection(this.url(), {});
    this.conn = pending;
    void portalToken().then((got) => {
      if (this.conn !== pending) return;
      if ('kind' in got) {
        // Unreachable while coming back: `pending` stays, so that the next try is scheduled.
        if (!(reconnecting && got.kind === 'unreachable')) this.conn = undefined;
        done?.(got);
        return;
      }
      this.conn = undefined;
      this.open(got.jid, got.token, { mechanisms: [Strophe.SASLOAuthBearer] }, done, reconnecting);
    });
  }

  private open(
    jid: string,
    secret: string,
    options: ConstructorParameters<typeof Strophe.Connection>[1],
    done: ((failure?: LoginFailure) => void) | undefined,
    reconnecting: boolean,
  ): void {
    const conn = new Strophe.Connection(this.url(), options);
    this.conn = conn;
    let online = false;
    const resource = `web-${Math.random().toString(36).slice(2, 8)}`;
    conn.connect(`${jid.split('/')[0]}/${resource}`, secret, (status, _condition, elem) => {
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
        if (failure.kind === 'auth' || failure.kind === 'portal') {
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
