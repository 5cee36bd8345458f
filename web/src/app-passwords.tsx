/**
 * « Mots de passe d'application » (docs/web-client.md): the passwords a
 * standard XMPP app (Gajim, Conversations, Monal…) logs in with, for a user
 * who signs in through the portal or has no chat password. The server makes
 * each secret and answers it once: it is shown here once, with the address
 * (JID) and the server to type in the app, then never again. The list shows
 * each one's name, creation and last use; « Supprimer » revokes it (the apps
 * logged in with it are disconnected).
 *
 * The server's two doors (crates/web/src/app_passwords.rs): a browser signed
 * in through the portal is known by its session cookie (`/sso/app-passwords`);
 * otherwise the user confirms with his password (`/api/app-passwords`), kept
 * in memory while the settings are open, as « Mes données » does.
 */

import { useEffect, useMemo, useState } from 'preact/hooks';
import { t } from './i18n';
import { lang, locale } from './shared/i18n';
import type { Model } from './model';
import { uid } from './hooks';

interface Item {
  id: number;
  label: string;
  created_ms: number;
  created_by: string | null;
  last_used_ms: number | null;
}

interface Listing {
  jid: string;
  server: string;
  allowed: boolean;
  items: Item[];
}

interface Created extends Item {
  secret: string;
  jid: string;
  server: string;
}

/** How requests are authenticated: the portal's cookie, or the password. */
type Door = { sso: true } | { sso: false; password: string };

async function call(door: Door, login: string, op: string, extra: Record<string, unknown> = {}) {
  const base = door.sso ? '/sso/app-passwords' : '/api/app-passwords';
  const body = door.sso ? extra : { login, password: door.password, ...extra };
  return fetch(`${base}/${op}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The server's own words for a refusal, in the page's language. */
async function refusal(resp: Response): Promise<string> {
  try {
    const e = (await resp.json()).error;
    const text = lang === 'en' ? e?.message_en : e?.message_fr;
    if (typeof text === 'string' && text) return text;
  } catch {
    // not JSON: the generic text
  }
  return t('appPwFailed');
}

const when = (ms: number) =>
  new Date(ms).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });

export function AppPasswords({ model }: { model: Model }) {
  const ids = useMemo(
    () => ({ password: uid('apppw-password'), label: uid('apppw-label'), problem: uid('apppw-problem') }),
    [],
  );
  const login = model.bare.split('@')[0];
  const [door, setDoor] = useState<Door | null>(null);
  const [listing, setListing] = useState<Listing | null>(null);
  const [password, setPassword] = useState('');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<Created | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (d: Door): Promise<boolean> => {
    const resp = await call(d, login, 'list');
    if (!resp.ok) return false;
    const l = (await resp.json()) as Listing;
    if (l.jid !== model.bare) return false;
    setDoor(d);
    setListing(l);
    return true;
  };

  // A browser signed in through the portal needs no password.
  useEffect(() => {
    void load({ sso: true }).catch(() => false);
  }, []);

  const unlock = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    if (!password) {
      setProblem(t('appPwBad'));
      return;
    }
    setBusy(true);
    try {
      if (!(await load({ sso: false, password }))) setProblem(t('appPwBad'));
    } catch {
      setProblem(t('appPwFailed'));
    } finally {
      setBusy(false);
    }
  };

  const create = async (e: Event) => {
    e.preventDefault();
    if (!door) return;
    setProblem(null);
    setStatus(null);
    if (!label.trim()) {
      setProblem(t('appPwLabelMissing'));
      return;
    }
    setBusy(true);
    try {
      const resp = await call(door, login, 'create', { label: label.trim() });
      if (!resp.ok) {
        setProblem(await refusal(resp));
        return;
      }
      setCreated((await resp.json()) as Created);
      setLabel('');
      await load(door);
    } catch {
      setProblem(t('appPwFailed'));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (item: Item) => {
    if (!door) return;
    setProblem(null);
    setStatus(null);
    setBusy(true);
    try {
      const resp = await call(door, login, 'revoke', { id: item.id });
      if (!resp.ok) {
        setProblem(await refusal(resp));
        return;
      }
      if (created?.id === item.id) setCreated(null);
      setStatus(t('appPwRevoked', { label: item.label }));
      await load(door);
    } catch {
      setProblem(t('appPwFailed'));
    } finally {
      setBusy(false);
    }
  };

  const problemText = problem && (
    <p id={ids.problem} class="error" role="alert">
      {problem}
    </p>
  );

  return (
    <fieldset class="app-passwords">
      <legend>{t('appPw')}</legend>
      <p>{t('appPwIntro')}</p>
      {!listing ? (
        <form onSubmit={unlock}>
          <p>{t('appPwUnlock')}</p>
          <div class="field">
            <label for={ids.password}>{t('appPwPassword')}</label>
            <input
              id={ids.password}
              type="password"
              autocomplete="current-password"
              value={password}
              aria-describedby={problem ? ids.problem : undefined}
              aria-invalid={problem ? 'true' : undefined}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </div>
          {problemText}
          <button type="submit" disabled={busy}>
            {t('appPwShow')}
          </button>
        </form>
      ) : (
        <>
          {!listing.allowed && <p class="notice">{t('appPwNotAllowed')}</p>}
          {created && (
            <div class="app-password-created" role="status">
              <p>{t('appPwCreated', { label: created.label })}</p>
              <dl>
                <dt>{t('appPwJid')}</dt>
                <dd>
                  <code>{created.jid}</code>
                </dd>
                <dt>{t('appPwSecret')}</dt>
                <dd>
                  <code class="app-password-secret">{created.secret}</code>
                </dd>
                <dt>{t('appPwServer')}</dt>
                <dd>
                  <code>{created.server}</code>
                </dd>
              </dl>
              <button type="button" onClick={() => setCreated(null)}>
                {t('appPwDone')}
              </button>
            </div>
          )}
          {status && <p role="status">{status}</p>}
          {listing.items.length === 0 ? (
            <p>{t('appPwNone')}</p>
          ) : (
            <ul class="app-password-list">
              {listing.items.map((item) => (
                <li key={item.id}>
                  <strong>{item.label}</strong>{' '}
                  <span>
                    {t('appPwCreatedOn', { date: when(item.created_ms) })}
                    {item.created_by ? ` ${t('appPwBySchool')}` : ''}
                    {' · '}
                    {item.last_used_ms
                      ? t('appPwLastUsed', { date: when(item.last_used_ms) })
                      : t('appPwNeverUsed')}
                  </span>{' '}
                  <button
                    type="button"
                    disabled={busy}
                    aria-label={t('appPwRevokeLabel', { label: item.label })}
                    onClick={() => void revoke(item)}
                  >
                    {t('appPwRevoke')}
                  </button>
                </li>
              ))}
            </ul>
          )}
          {listing.allowed && (
            <form onSubmit={create}>
              <div class="field">
                <label for={ids.label}>{t('appPwLabel')}</label>
                <input
                  id={ids.label}
                  type="text"
                  maxLength={64}
                  value={label}
                  placeholder={t('appPwLabelExample')}
                  aria-describedby={problem ? ids.problem : undefined}
                  onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
                />
              </div>
              {problemText}
              <button type="submit" disabled={busy}>
                {t('appPwCreate')}
              </button>
            </form>
          )}
          {!listing.allowed && problemText}
        </>
      )}
    </fieldset>
  );
}
