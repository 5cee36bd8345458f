// The screens that are not one structure's: the live view (figures, health,
// last import), the audit log with its CSV export, and the super-
// administrator's list of administrators with grant and revoke.

import { useEffect, useState } from 'preact/hooks';
import { type Admin, ApiError, type AuditRow, type Session, api } from './api';
import { formatDate, t, tk } from './i18n';
import {
  Confirm,
  ErrorText,
  Loading,
  ScreenHeading,
  announce,
  errorFor,
  invalid,
  localError,
  structureName,
  useLoad,
  useUid,
} from './ui';

const REFRESH_MS = 5000;

export function LiveScreen() {
  const { data, error, reload } = useLoad(() => api.live(), []);
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const chartId = useUid('chart');
  return (
    <>
      <ScreenHeading>{t('liveHeading')}</ScreenHeading>
      <div class="buttons left">
        <button type="button" onClick={reload}>
          {t('refresh')}
        </button>
      </div>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && (
        <>
          <section class="panel" aria-labelledby="live-figures">
            <h2 id="live-figures">{t('liveServer')}</h2>
            <dl class="figures">
              <div>
                <dt>{t('liveOnline')}</dt>
                <dd>{data.online_users}</dd>
              </div>
              <div>
                <dt>{t('liveSessions')}</dt>
                <dd>{data.sessions}</dd>
              </div>
              {data.rooms != null && (
                <div>
                  <dt>{t('liveRooms')}</dt>
                  <dd>{data.rooms}</dd>
                </div>
              )}
              {data.messages_last_minute != null && (
                <div>
                  <dt>{t('liveMessages')}</dt>
                  <dd>{data.messages_last_minute}</dd>
                </div>
              )}
            </dl>
            {data.messages_per_minute && data.messages_per_minute.length > 0 ? (
              <Chart id={chartId} values={data.messages_per_minute} />
            ) : (
              <p class="hint">{t('liveServerOnly')}</p>
            )}
          </section>
          <section class="panel" aria-labelledby="live-health">
            <h2 id="live-health">{t('liveHealth')}</h2>
            <dl class="card">
              <dt>{t('liveStore')}</dt>
              <dd class={data.store === 'ok' ? 'ok' : 'error'}>{t(data.store === 'ok' ? 'liveStoreOk' : 'liveStoreError')}</dd>
              <dt>{t('liveUptime')}</dt>
              <dd>{uptime(data.uptime_s)}</dd>
              <dt>{t('liveVersion')}</dt>
              <dd>{data.version}</dd>
            </dl>
          </section>
          <section class="panel" aria-labelledby="live-import">
            <h2 id="live-import">{t('liveImport')}</h2>
            {!data.last_import ? (
              <p class="empty">{t('liveImportNone')}</p>
            ) : (
              <>
                <dl class="card">
                  <dt>{t('liveImportAt')}</dt>
                  <dd>{formatDate(data.last_import.at)}</dd>
                  <dt>{t('liveImportSource')}</dt>
                  <dd>{tk('source_', data.last_import.source)}</dd>
                  <dt>{t('liveImportResult')}</dt>
                  <dd class={data.last_import.ok ? 'ok' : 'error'}>
                    {t(data.last_import.ok ? 'liveImportOk' : 'liveImportFailed')}
                  </dd>
                </dl>
                {Object.keys(data.last_import.counts ?? {}).length > 0 && (
                  <table class="data compact">
                    <caption>{t('liveImportCounts')}</caption>
                    <thead>
                      <tr>
                        <th scope="col">{t('colWhat')}</th>
                        <th scope="col">{t('colCount')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {Object.entries(data.last_import.counts).map(([k, v]) => (
                        <tr key={k}>
                          <th scope="row">{tk('count_', k)}</th>
                          <td class="num">{String(v)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                {data.last_import.errors?.length > 0 && (
                  <>
                    <h3>{t('liveImportErrors')}</h3>
                    <ul class="errors">
                      {data.last_import.errors.map((e, i) => (
                        <li key={i}>{e}</li>
                      ))}
                    </ul>
                  </>
                )}
              </>
            )}
          </section>
        </>
      )}
    </>
  );
}

function uptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return t('uptime', { d, h, m });
}

/** Bars of the last hour; the figures are also given in words beside it. */
function Chart({ id, values }: { id: string; values: number[] }) {
  const max = Math.max(1, ...values);
  const w = 4;
  const h = 60;
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <figure class="chart">
      <figcaption id={id}>{t('liveChart')}</figcaption>
      <svg
        viewBox={`0 0 ${values.length * w} ${h}`}
        width={values.length * w * 2}
        height={h}
        role="img"
        aria-labelledby={id}
        aria-describedby={`${id}-summary`}
        preserveAspectRatio="none"
      >
        {values.map((v, i) => {
          const bh = (v / max) * (h - 2);
          return <rect key={i} x={i * w} y={h - bh} width={w - 1} height={bh} fill="#1d4f91" />;
        })}
        <line x1="0" y1={h - 0.5} x2={values.length * w} y2={h - 0.5} stroke="#57606a" stroke-width="1" />
      </svg>
      <p class="hint" id={`${id}-summary`}>
        {t('liveChartSummary', { min: values.length ? Math.min(...values) : 0, max: values.length ? Math.max(...values) : 0, total })}
      </p>
    </figure>
  );
}

// ------------------------------------------------------------ audit

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value in words: strings as they are, lists with commas, objects as « key: value ». */
function json(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(json).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${k}: ${json(x)}`).join(', ')}}`;
  return String(v);
}

/**
 * Before and after as lines « key: value »; when both are objects, only the
 * keys that changed (a group's members, a structure's profiles…).
 */
function changes(before: unknown, after: unknown): [string, string] {
  if (!isObject(before) || !isObject(after)) return [json(before), json(after)];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (k) => json(before[k]) !== json(after[k]),
  );
  const side = (o: Record<string, unknown>) =>
    keys
      .filter((k) => k in o)
      .map((k) => `${k}: ${json(o[k])}`)
      .join('\n');
  return keys.length ? [side(before), side(after)] : [json(before), json(after)];
}

export function AuditScreen({ session }: { session: Session }) {
  const [structure, setStructure] = useState('');
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const filterId = useUid('audit-filter');
  const PAGE = 50;
  const load = async (before?: AuditRow['id']) => {
    setError(null);
    try {
      const r = await api.audit(structure || undefined, before, PAGE);
      setRows((old) => (before === undefined ? r : [...(old ?? []), ...r]));
      setMore(r.length === PAGE);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setRows(null);
    load();
  }, [structure]);
  return (
    <>
      <ScreenHeading>{t('auditHeading')}</ScreenHeading>
      <p>{t('auditIntro')}</p>
      <div class="toolbar">
        {session.structures.length > 1 || session.role === 'super' ? (
          <div class="field inline">
            <label for={filterId}>{t('auditFilter')}</label>
            <select id={filterId} value={structure} onChange={(e) => setStructure((e.target as HTMLSelectElement).value)}>
              <option value="">{t('auditAll')}</option>
              {session.structures.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <a class="button" href={api.auditCsvUrl(structure || undefined)} download="audit.csv">
          {t('auditCsv')}
        </a>
      </div>
      <ErrorText error={error} />
      {!rows && !error && <Loading />}
      {rows && rows.length === 0 && <p class="empty">{t('auditNone')}</p>}
      {rows && rows.length > 0 && (
        // Scrolls sideways on a narrow screen: focusable so that the keyboard can scroll it.
        <div class="scroll" tabIndex={0} role="region" aria-label={t('auditCaption')}>
          <table class="data audit">
            <caption>{t('auditCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colAt')}</th>
                <th scope="col">{t('colActor')}</th>
                <th scope="col">{t('colAction')}</th>
                <th scope="col">{t('colStructure')}</th>
                <th scope="col">{t('colTarget')}</th>
                <th scope="col">{t('colBefore')}</th>
                <th scope="col">{t('colAfter')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const [before, after] = changes(r.before, r.after);
                return (
                  <tr key={r.id}>
                    <th scope="row">{formatDate(r.at)}</th>
                    <td>{r.actor}</td>
                    <td>
                      {tk('action_', r.action)} <span class="hint block">{r.action}</span>
                    </td>
                    <td>{r.structure ? structureName(r.structure) : ''}</td>
                    <td>{r.target ?? ''}</td>
                    <td>
                      <code>{before}</code>
                    </td>
                    <td>
                      <code>{after}</code>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {rows && more && (
        <div class="buttons left">
          <button type="button" onClick={() => load(rows[rows.length - 1].id)}>
            {t('auditMore')}
          </button>
        </div>
      )}
    </>
  );
}

// ------------------------------------------------------------ administrators

export function AdminsScreen({ session }: { session: Session }) {
  const { data, error, reload } = useLoad(() => api.admins(), []);
  const [revoking, setRevoking] = useState<{ login: string; structure: string } | null>(null);
  const name = (id: string) => session.structures.find((s) => s.id === id)?.name ?? id;
  if (session.role !== 'super') return <ErrorText error={new ApiError(403, 'forbidden', '', '')} />;
  return (
    <>
      <ScreenHeading>{t('adminsHeading')}</ScreenHeading>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && (
        <table class="data">
          <caption>{t('adminsCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colName')}</th>
              <th scope="col">{t('colLogin')}</th>
              <th scope="col">{t('colRole')}</th>
              <th scope="col">{t('colStructures')}</th>
              <th scope="col">{t('colSource')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((a: Admin) => (
              <tr key={`${a.login} ${a.source}`}>
                <th scope="row">{a.name || a.login}</th>
                <td>{a.login}</td>
                <td>{t(a.role === 'super' ? 'roleSuper' : a.role === 'collectivite' ? 'roleCollectivite' : 'roleLocal')}</td>
                <td>
                  <ul class="plain">
                    {(a.collectivites ?? []).map((c) => (
                      <li key={c}>
                        <a href={`#/c/${encodeURIComponent(c)}`}>{c}</a>
                      </li>
                    ))}
                    {a.structures.map((s) => (
                      <li key={s}>
                        {name(s)}{' '}
                        {a.source === 'grant' && (
                          <button
                            type="button"
                            aria-label={t('revokeNamed', { login: a.login, structure: name(s) })}
                            onClick={() => setRevoking({ login: a.login, structure: s })}
                          >
                            {t('revoke')}
                          </button>
                        )}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{tk('source', a.source.charAt(0).toUpperCase() + a.source.slice(1))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <GrantForm session={session} onGranted={reload} />
      {revoking && (
        <Confirm
          title={t('revokeNamed', { login: revoking.login, structure: name(revoking.structure) })}
          text={t('revokeConfirm', { login: revoking.login, structure: name(revoking.structure) })}
          onClose={() => setRevoking(null)}
          onYes={async () => {
            await api.revoke(revoking.login, revoking.structure);
            announce(t('revoked', { login: revoking.login, structure: name(revoking.structure) }));
            setRevoking(null);
            reload();
          }}
        />
      )}
    </>
  );
}

function GrantForm({ session, onGranted }: { session: Session; onGranted: () => void }) {
  const [login, setLogin] = useState('');
  const [structure, setStructure] = useState(session.structures[0]?.id ?? '');
  const [error, setError] = useState<unknown>(null);
  const ids = { login: useUid('grant-login'), structure: useUid('grant-structure'), h: useUid('grant-h') };
  const fields = ['login', 'structures'];
  const loginError = errorFor(error, 'login', fields);
  const structureError = errorFor(error, 'structures', fields);
  return (
    <section class="panel" aria-labelledby={ids.h}>
      <h2 id={ids.h}>{t('grantHeading')}</h2>
      <form
        class="inline-form"
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (!login.trim()) {
            setError(localError('login', t('grantMissing')));
            return;
          }
          setError(null);
          try {
            await api.grant(login.trim(), [structure]);
            const s = session.structures.find((x) => x.id === structure)?.name ?? structure;
            announce(t('granted', { login: login.trim(), structure: s }));
            setLogin('');
            onGranted();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <div class="field">
          <label for={ids.login}>{t('grantLogin')}</label>
          <input
            id={ids.login}
            type="text"
            autocapitalize="none"
            spellcheck={false}
            value={login}
            {...invalid(loginError, `${ids.login}-error`)}
            onInput={(e) => setLogin((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for={ids.structure}>{t('grantStructure')}</label>
          <select
            id={ids.structure}
            value={structure}
            {...invalid(structureError, `${ids.structure}-error`)}
            onChange={(e) => setStructure((e.target as HTMLSelectElement).value)}
          >
            {session.structures.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary">
          {t('grantSubmit')}
        </button>
      </form>
      <ErrorText error={loginError} id={`${ids.login}-error`} />
      <ErrorText error={structureError} id={`${ids.structure}-error`} />
      <ErrorText error={errorFor(error, '', fields)} />
    </section>
  );
}
