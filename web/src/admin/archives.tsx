// « Accès aux archives »: the lawful reading of a member's archives by the
// structure's safety staff (the server decides who: its designated safety
// staff, else its local administrators). An access is asked for with a
// written reason and lasts a bounded time; the server writes the grant and
// every reading to the audit log. Everything from the data is inserted as
// text, never as markup.

import { useState } from 'preact/hooks';
import { api, type ArchiveGrant, type ArchiveMessage, type Session } from './api';
import { formatDate, t } from './i18n';
import { ErrorText, Loading, ScreenHeading, announce, go, href, structureName, useLoad, useUid } from './ui';

const personOf = (g: ArchiveGrant) => g.name ?? g.login;

/** `#/archives[/SID]`: ask for an access, and the structure's accesses. */
export function ArchivesScreen({ session, sid }: { session: Session; sid?: string }) {
  const structures = session.archive_structures ?? [];
  const current = sid ?? structures[0]?.id;
  const selectId = useUid('archives-structure');
  const loginId = useUid('archives-login');
  const reasonId = useUid('archives-reason');
  const hoursId = useUid('archives-hours');
  const [login, setLogin] = useState('');
  const [reason, setReason] = useState('');
  const [hours, setHours] = useState('');
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { data, error, setData } = useLoad(
    () => (current ? api.archiveGrants(current) : Promise.resolve([])),
    [current],
  );
  const ask = async (e: Event) => {
    e.preventDefault();
    if (!current) return;
    if (!login.trim() || !reason.trim()) {
      setFormError(new Error(t('archivesMissing')));
      return;
    }
    setBusy(true);
    setFormError(null);
    try {
      const g = await api.askArchiveGrant(current, login.trim(), reason.trim(), hours ? Number(hours) : undefined);
      setData([g, ...(data ?? [])]);
      setLogin('');
      setReason('');
      setHours('');
      announce(t('archivesGranted', { name: personOf(g), until: formatDate(g.expires) }));
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ScreenHeading>{t('archivesHeading')}</ScreenHeading>
      <p>{t('archivesIntro')}</p>
      {structures.length > 1 && (
        <p class="field">
          <label for={selectId}>{t('archivesStructure')}</label>{' '}
          <select id={selectId} value={current} onChange={(e) => go('archives', (e.target as HTMLSelectElement).value)}>
            {structures.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </p>
      )}
      {current && (
        <form class="card" onSubmit={ask}>
          <h2>{t('archivesAsk')}</h2>
          <p class="field">
            <label for={loginId}>{t('archivesLogin')}</label>
            <input id={loginId} value={login} autocomplete="off" onInput={(e) => setLogin((e.target as HTMLInputElement).value)} />
          </p>
          <p class="field">
            <label for={reasonId}>{t('archivesReason')}</label>
            <textarea id={reasonId} rows={3} maxLength={1000} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
          </p>
          <p class="field">
            <label for={hoursId}>{t('archivesHours')}</label>
            <input id={hoursId} type="number" min={1} max={72} value={hours} onInput={(e) => setHours((e.target as HTMLInputElement).value)} />
          </p>
          <ErrorText error={formError} />
          <button type="submit" disabled={busy}>
            {t('archivesSubmit')}
          </button>
        </form>
      )}
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('archivesNone')}</p>}
      {data && data.length > 0 && current && (
        <table class="data">
          <caption>{t('archivesCaption', { name: structureName(current) })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colArchivePerson')}</th>
              <th scope="col">{t('colArchiveBy')}</th>
              <th scope="col">{t('colArchiveReason')}</th>
              <th scope="col">{t('colDate')}</th>
              <th scope="col">{t('colArchiveUntil')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((g) => (
              <tr key={g.id}>
                <th scope="row">
                  {g.active && g.grantee === session.login ? (
                    <a href={href('archives', g.structure, String(g.id))}>
                      {personOf(g)} — {t('archiveOpen')}
                    </a>
                  ) : (
                    personOf(g)
                  )}
                </th>
                <td>{g.grantee_name ?? g.grantee}</td>
                <td>{g.reason}</td>
                <td>{formatDate(g.created)}</td>
                <td>{g.active ? formatDate(g.expires) : t('archiveEnded')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** `#/archives/SID/GID`: read under one grant. */
export function ArchiveScreen({ sid, gid }: { sid: string; gid: string }) {
  const { data: grant, error } = useLoad(() => api.archiveGrant(gid), [gid]);
  const whatId = useUid('archive-what');
  const withId = useUid('archive-with');
  const [what, setWhat] = useState('');
  const [withJid, setWithJid] = useState('');
  const [messages, setMessages] = useState<ArchiveMessage[] | null>(null);
  const [complete, setComplete] = useState(true);
  const [readError, setReadError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const read = async (older: boolean) => {
    setBusy(true);
    setReadError(null);
    try {
      const before = older && messages && messages.length > 0 ? messages[0].id : undefined;
      const page = await api.archiveMessages(gid, what ? { room: what, before } : { with: withJid.trim() || undefined, before });
      setMessages(older && messages ? [...page.messages, ...messages] : page.messages);
      setComplete(page.complete);
    } catch (err) {
      setReadError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ScreenHeading>{t('archiveHeading', { name: grant ? personOf(grant) : gid })}</ScreenHeading>
      <p>
        <a href={href('archives', sid)}>{t('archiveBack')}</a>
      </p>
      <ErrorText error={error} />
      {!grant && !error && <Loading />}
      {grant && (
        <>
          <p>{t('archiveWhy', { reason: grant.reason, until: formatDate(grant.expires) })}</p>
          <form
            class="card"
            onSubmit={(e) => {
              e.preventDefault();
              void read(false);
            }}
          >
            <p class="field">
              <label for={whatId}>{t('archiveWhat')}</label>{' '}
              <select id={whatId} value={what} onChange={(e) => setWhat((e.target as HTMLSelectElement).value)}>
                <option value="">{t('archiveOneToOne')}</option>
                {(grant.rooms ?? []).map((r) => (
                  <option key={r.name} value={r.name}>
                    {t('archiveRoom', { title: r.title || r.name })}
                  </option>
                ))}
              </select>
            </p>
            {!what && (
              <p class="field">
                <label for={withId}>{t('archiveWith')}</label>
                <input id={withId} value={withJid} onInput={(e) => setWithJid((e.target as HTMLInputElement).value)} />
              </p>
            )}
            <button type="submit" disabled={busy}>
              {t('archiveShow')}
            </button>
          </form>
          <ErrorText error={readError} />
          {messages && messages.length === 0 && <p class="empty">{t('archiveEmpty')}</p>}
          {messages && messages.length > 0 && (
            <>
              {!complete && (
                <p>
                  <button type="button" disabled={busy} onClick={() => void read(true)}>
                    {t('archiveOlder')}
                  </button>
                </p>
              )}
              <table class="data">
                <caption>{t('archiveCaption')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('colDate')}</th>
                    <th scope="col">{t('colMsgFrom')}</th>
                    <th scope="col">{t('colMsgTo')}</th>
                    <th scope="col">{t('colMessage')}</th>
                  </tr>
                </thead>
                <tbody>
                  {messages.map((m) => (
                    <tr key={m.id}>
                      <td>{formatDate(m.time)}</td>
                      <th scope="row">{m.nick ? `${m.nick} (${m.from})` : m.from}</th>
                      <td>{m.to ?? what}</td>
                      <td>{m.body}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </>
  );
}
