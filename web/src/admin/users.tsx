// Users: a directory search, then a user's card (profile, classes, groups,
// chat allowed or why not, sessions, locked), with « Déconnecter »,
// « Verrouiller » / « Déverrouiller » and « Qui peut-il joindre ? », and his
// app passwords (app-passwords.tsx).

import { useState } from 'preact/hooks';
import { type Reach, type User, type UserCard, api } from './api';
import { AppPasswords } from './app-passwords';
import { formatDate, profileName, t, tk } from './i18n';
import { Confirm, ErrorText, Loading, ScreenHeading, announce, href, invalid, structureName, useLoad, useUid } from './ui';

// The last search, kept when coming back from a card.
let lastSearch: { sid: string; q: string; results: User[] | null } = { sid: '', q: '', results: null };

export function UsersScreen({ sid }: { sid: string }) {
  const kept = lastSearch.sid === sid ? lastSearch : { sid, q: '', results: null };
  const [q, setQ] = useState(kept.q);
  const [results, setResults] = useState<User[] | null>(kept.results);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useUid('user-search');
  const errorId = useUid('user-search-error');
  const search = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.users(q.trim(), sid, 100);
      setResults(r);
      lastSearch = { sid, q, results: r };
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ScreenHeading>{t('usersHeading')}</ScreenHeading>
      <form role="search" class="inline-form" onSubmit={search} noValidate>
        <div class="field">
          <label for={inputId}>{t('searchUsers')}</label>
          <input
            id={inputId}
            type="search"
            value={q}
            aria-describedby={`${inputId}-hint`}
            {...invalid(error, errorId)}
            onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          />
          <p class="hint" id={`${inputId}-hint`}>
            {t('searchHint')}
          </p>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {t('search')}
        </button>
      </form>
      <ErrorText error={error} id={errorId} />
      {busy && <p class="hint">{t('searching')}</p>}
      {results && (
        <p class="hint" role="status">
          {results.length === 0 ? t('searchNone') : t('searchCount', { n: results.length })}
        </p>
      )}
      {results && results.length > 0 && (
        <table class="data">
          <caption>{t('usersCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colName')}</th>
              <th scope="col">{t('colLogin')}</th>
              <th scope="col">{t('colProfile')}</th>
              <th scope="col">{t('colClasses')}</th>
            </tr>
          </thead>
          <tbody>
            {results.map((u) => (
              <tr key={u.login}>
                <th scope="row">
                  <a href={href('s', sid, 'users', u.login)}>{u.name}</a>
                </th>
                <td>{u.login}</td>
                <td>{profileName(u.profile)}</td>
                <td>{(u.classes ?? []).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

const personName = (p: User | string) => (typeof p === 'string' ? p : p.name);

export function UserScreen({ sid, login }: { sid: string; login: string }) {
  const { data: u, error, setData } = useLoad(() => api.user(login), [login]);
  const [actionError, setActionError] = useState<unknown>(null);
  const [locking, setLocking] = useState(false);
  const [reach, setReach] = useState<Reach | null>(null);
  const [reachError, setReachError] = useState<unknown>(null);
  const refresh = async () => setData(await api.user(login));
  const act = async (f: () => Promise<void>) => {
    setActionError(null);
    try {
      await f();
    } catch (err) {
      setActionError(err);
    }
  };
  return (
    <>
      <p>
        <a href={href('s', sid, 'users')}>{t('userBack')}</a>
      </p>
      <ScreenHeading>{u ? u.name : t('usersHeading')}</ScreenHeading>
      <ErrorText error={error} />
      {!u && !error && <Loading />}
      {u && (
        <>
          <dl class="card">
            <dt>{t('colLogin')}</dt>
            <dd>{u.login}</dd>
            <dt>{t('colProfile')}</dt>
            <dd>{profileName(u.profile)}</dd>
            <dt>{t('userStructures')}</dt>
            <dd>{u.structures.map(structureName).join(', ') || t('none')}</dd>
            <dt>{t('colClasses')}</dt>
            <dd>{(u.classes ?? []).join(', ') || t('none')}</dd>
            <dt>{t('userGroups')}</dt>
            <dd>{(u.groups ?? []).map((g) => g.name).join(', ') || t('none')}</dd>
            {u.children && u.children.length > 0 && (
              <>
                <dt>{t('userChildren')}</dt>
                <dd>{u.children.map(personName).join(', ')}</dd>
              </>
            )}
            {u.parents && u.parents.length > 0 && (
              <>
                <dt>{t('userParents')}</dt>
                <dd>{u.parents.map(personName).join(', ')}</dd>
              </>
            )}
            <dt>{t('userChat')}</dt>
            <dd data-testid="chat-access">
              {u.chat_allowed
                ? t('userChatAllowed')
                : t('userChatRefused', { why: tk('why_', u.chat_refused_because ?? 'inactive') })}
            </dd>
            <dt>{t('userAccount')}</dt>
            <dd>{t(u.locked ? 'userLocked' : 'userUnlocked')}</dd>
            <dt>{t('userSessions')}</dt>
            <dd>{u.sessions.length === 0 ? t('userOffline') : u.sessions.length}</dd>
          </dl>
          {u.sessions.length > 0 && (
            <table class="data">
              <caption>{t('userSessionsCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('colResource')}</th>
                  <th scope="col">{t('colTransport')}</th>
                  <th scope="col">{t('colAgent')}</th>
                  <th scope="col">{t('colSince')}</th>
                  <th scope="col">{t('colAddress')}</th>
                </tr>
              </thead>
              <tbody>
                {u.sessions.map((s) => (
                  <tr key={s.resource}>
                    <th scope="row">{s.resource}</th>
                    <td>{tk('transport_', s.transport)}</td>
                    <td>{s.agent ?? ''}</td>
                    <td>{formatDate(s.since)}</td>
                    <td>{s.address ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="buttons left">
            <button
              type="button"
              onClick={() =>
                act(async () => {
                  const r = await api.disconnect(u.login);
                  announce(t('disconnected', { n: r?.disconnected ?? 0 }));
                  await refresh();
                })
              }
            >
              {t('disconnect')}
            </button>
            {u.locked ? (
              <button
                type="button"
                onClick={() =>
                  act(async () => {
                    await api.unlock(u.login);
                    await refresh();
                    announce(t('unlocked', { name: u.name }));
                  })
                }
              >
                {t('unlock')}
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => setLocking(true)}>
                {t('lock')}
              </button>
            )}
            <button
              type="button"
              aria-expanded={reach ? 'true' : 'false'}
              onClick={async () => {
                setReachError(null);
                try {
                  setReach(await api.userReach(u.login, 200));
                } catch (err) {
                  setReachError(err);
                }
              }}
            >
              {t('whoCanReach')}
            </button>
            <a class="button" href={api.exportUrl(u.login)} download={`causerie-${u.login}.json`}>
              {t('userExport')}
            </a>
          </div>
          <ErrorText error={actionError} />
          {locking && (
            <Confirm
              title={t('lock')}
              text={t('lockConfirm', { name: u.name })}
              onClose={() => setLocking(false)}
              onYes={async () => {
                await api.lock(u.login);
                setLocking(false);
                await refresh();
                announce(t('locked', { name: u.name }));
              }}
            />
          )}
          <ErrorText error={reachError} />
          {reach && <ReachTable user={u} reach={reach} />}
          <AppPasswords login={u.login} name={u.name} />
        </>
      )}
    </>
  );
}

function ReachTable({ user, reach }: { user: UserCard; reach: Reach }) {
  const headingId = useUid('reach');
  const why = (r: Reach['users'][number]) => {
    if (r.why === 'group') {
      const g = typeof r.group === 'string' ? r.group : r.group?.name;
      return g ? t('why_group', { group: g }) : t('why_group_unnamed');
    }
    return tk('why_', r.why);
  };
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('reachHeading', { name: user.name })}</h2>
      <p>
        {reach.total > reach.users.length
          ? t('reachShown', { n: reach.total, shown: reach.users.length })
          : t('reachTotal', { n: reach.total })}
      </p>
      {reach.users.length > 0 && (
        <table class="data">
          <caption>{t('reachCaption', { name: user.name })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colName')}</th>
              <th scope="col">{t('colProfile')}</th>
              <th scope="col">{t('colClasses')}</th>
              <th scope="col">{t('colWhy')}</th>
            </tr>
          </thead>
          <tbody>
            {reach.users.map((r) => (
              <tr key={r.login}>
                <th scope="row">{r.name}</th>
                <td>{profileName(r.profile)}</td>
                <td>{(r.classes ?? []).join(', ')}</td>
                <td>{why(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
