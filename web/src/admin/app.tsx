// The console's frame: the login page, then a header (who is signed in,
// « Se déconnecter »), the main menu, the structure's own menu, and the
// screen the address (#/…) names.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Session, whenExpired } from './api';
import { errorText, t } from './i18n';
import { Announcer, ErrorText, Loading, ScreenHeading, href, structureName, structureNames, useHash, useLoad } from './ui';
import { QuietScreen } from './quiet';
import { AccessScreen, RulesScreen } from './structure';
import { GroupScreen, GroupsScreen } from './groups';
import { UserScreen, UsersScreen } from './users';
import { AdminsScreen, AuditScreen, LiveScreen } from './overview';
import { ReportScreen, ReportsScreen, SafetyStaffScreen } from './reports';
import { ArchiveScreen, ArchivesScreen } from './archives';
import { CollectiviteScreen, CollectivitesScreen, accessText } from './collectivites';
import { LoginForm } from '../login-form';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    whenExpired((e) => {
      setSession(null);
      // A locked or deactivated account: the server's own words say which.
      setNotice(
        e.code === 'not-admin' ? t('loginNotAdmin') : e.code === 'no-session' ? t('expired') : errorText(e),
      );
    });
    api.session().then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return <Loading />;
  if (session === null)
    return (
      <Login
        notice={notice}
        onIn={(s) => {
          setNotice(null);
          setSession(s);
        }}
      />
    );
  return (
    <Shell
      session={session}
      onOut={() => {
        setNotice(null);
        setSession(null);
      }}
    />
  );
}

function Login({ notice, onIn }: { notice: string | null; onIn: (s: Session) => void }) {
  const [id, setId] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!id.trim() || !password) {
      setError(t('loginMissing'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onIn(await api.login(id.trim(), password));
    } catch (err) {
      setBusy(false);
      setError(loginError(err));
      document.getElementById('login-password')?.focus();
    }
  };
  const shown = error ?? notice;
  useEffect(() => {
    document.title = t('title');
  }, []);
  return (
    <main class="login" id="main">
      <LoginForm
        labels={{
          heading: t('loginHeading'),
          intro: t('loginIntro'),
          id: t('loginId'),
          password: t('loginPassword'),
          submit: t('loginSubmit'),
          busy: t('loginBusy'),
        }}
        id={id}
        password={password}
        onId={setId}
        onPassword={setPassword}
        invalid={!!error}
        message={shown}
        busy={busy}
        onSubmit={submit}
      />
    </main>
  );
}

function loginError(err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(err);
  switch (err.code) {
    case 'bad-credentials':
      return t('loginBad');
    case 'locked-out': {
      const s = err.retryAfter ?? 900;
      return s >= 60 ? t('loginLocked', { n: Math.ceil(s / 60) }) : t('loginLockedSeconds', { n: Math.max(1, s) });
    }
    case 'not-admin':
      return t('loginNotAdmin');
    default:
      return errorText(err);
  }
}

function Shell({ session, onOut }: { session: Session; onOut: () => void }) {
  const route = useHash();
  const [top, sid, section, sub] = route;
  const safetyOnly = session.role === 'safety';
  // A collectivité administrator sets access only: no user lists, live view or audit.
  const accessOnly = session.role === 'collectivite';
  const screen = top ?? (safetyOnly ? 'reports' : 'structures');
  for (const s of session.structures) structureNames.set(s.id, s.name);
  for (const s of session.access_structures ?? []) structureNames.set(s.id, s.name);
  for (const s of session.report_structures ?? []) structureNames.set(s.id, s.name);
  for (const s of session.archive_structures ?? []) structureNames.set(s.id, s.name);
  const mainLinks: [string, string, boolean][] = safetyOnly
    ? []
    : accessOnly
      ? [[href(), t('navStructures'), screen === 'structures' || screen === 's']]
      : [
          [href(), t('navStructures'), screen === 'structures' || screen === 's'],
          [href('live'), t('navLive'), screen === 'live'],
          [href('audit'), t('navAudit'), screen === 'audit'],
        ];
  if ((session.collectivites ?? []).length > 0)
    mainLinks.push([href('collectivites'), t('navCollectivites'), screen === 'collectivites' || screen === 'c']);
  const ownStructure = (id: string) => !accessOnlyStructure(session, id);
  if ((session.report_structures ?? []).length > 0)
    mainLinks.push([href('reports'), t('navReports'), screen === 'reports']);
  if ((session.archive_structures ?? []).length > 0)
    mainLinks.push([href('archives'), t('navArchives'), screen === 'archives']);
  if (session.role === 'super') mainLinks.push([href('admins'), t('navAdmins'), screen === 'admins']);
  return (
    <div class="console">
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.querySelector<HTMLElement>('#main h1')?.focus();
      }}>
        {t('skip')}
      </a>
      <header class="topbar">
        <p class="brand">{t('title')}</p>
        <p class="who">
          {t('signedInAs', {
            name: session.name || session.login,
            role: t(
              session.role === 'super'
                ? 'roleSuper'
                : session.role === 'safety'
                  ? 'roleSafety'
                  : session.role === 'collectivite'
                    ? 'roleCollectivite'
                    : 'roleLocal',
            ),
          })}
        </p>
        <button
          type="button"
          onClick={async () => {
            try {
              await api.logout();
            } catch {
              // Gone already: the login page either way.
            }
            location.hash = '';
            onOut();
          }}
        >
          {t('logout')}
        </button>
      </header>
      <nav class="mainnav" aria-label={t('navMain')}>
        <ul>
          {mainLinks.map(([h, label, current]) => (
            <li key={h}>
              <a href={h} aria-current={current ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {screen === 's' && sid && (
        <nav class="subnav" aria-label={t('navStructure')}>
          <p class="current-structure">{t('currentStructure', { name: structureName(sid) })}</p>
          <ul>
            {(ownStructure(sid)
              ? ([
                  ['access', t('navAccess')],
                  ['rules', t('navRules')],
                  ['groups', t('navGroups')],
                  ['users', t('navUsers')],
                  ['safety', t('navSafety')],
                  ['quiet', t('navQuiet')],
                ] as const)
              : ([['access', t('navAccess')]] as const)
            ).map(([s, label]) => (
              <li key={s}>
                <a href={href('s', sid, s)} aria-current={(section ?? 'access') === s ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main" class="screen">
        <Screen key={route.join('/')} session={session} route={route} sid={sid} section={section} sub={sub} />
      </main>
      <Announcer />
    </div>
  );
}

function Screen({
  session,
  route,
  sid,
  section,
  sub,
}: {
  session: Session;
  route: string[];
  sid?: string;
  section?: string;
  sub?: string;
}) {
  switch (route[0] ?? (session.role === 'safety' ? 'reports' : 'structures')) {
    case 'reports':
      return section && sid ? <ReportScreen sid={sid} rid={section} /> : <ReportsScreen session={session} sid={sid} />;
    case 'archives':
      return section && sid ? <ArchiveScreen sid={sid} gid={section} /> : <ArchivesScreen session={session} sid={sid} />;
    case 'structures':
      return <StructuresScreen />;
    case 'collectivites':
      return <CollectivitesScreen />;
    case 'c':
      return sid ? <CollectiviteScreen cid={sid} session={session} /> : <CollectivitesScreen />;
    case 's':
      if (!sid) return <StructuresScreen />;
      // Through a collectivité only: the access screen, whatever the address says.
      if (accessOnlyStructure(session, sid)) return <AccessScreen sid={sid} />;
      switch (section ?? 'access') {
        case 'rules':
          return <RulesScreen sid={sid} />;
        case 'groups':
          return sub ? <GroupScreen sid={sid} gid={sub} /> : <GroupsScreen sid={sid} />;
        case 'users':
          return sub ? <UserScreen sid={sid} login={sub} /> : <UsersScreen sid={sid} />;
        case 'safety':
          return <SafetyStaffScreen sid={sid} />;
        case 'quiet':
          return <QuietScreen sid={sid} />;
        default:
          return <AccessScreen sid={sid} />;
      }
    case 'live':
      return <LiveScreen />;
    case 'audit':
      return <AuditScreen session={session} />;
    case 'admins':
      return <AdminsScreen session={session} />;
    default:
      return <StructuresScreen />;
  }
}

/** A structure the caller sets the access of through a collectivité only: its access, nothing else. */
function accessOnlyStructure(session: Session, id: string): boolean {
  return (
    session.role !== 'super' &&
    !session.structures.some((s) => s.id === id) &&
    (session.access_structures ?? []).some((s) => s.id === id)
  );
}

/** The structure picker: the caller's structures only (the server decides which). */
function StructuresScreen() {
  const { data, error } = useLoad(() => api.structures(), []);
  // User figures only where the caller administers a structure itself.
  const figures = !!data && data.some((s) => !s.access_only);
  return (
    <>
      <ScreenHeading>{t('structuresHeading')}</ScreenHeading>
      <p>{t('structuresIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('noStructure')}</p>}
      {data && data.length > 0 && (
        <table class="data">
          <caption>{t('structuresCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colStructure')}</th>
              <th scope="col">{t('colUai')}</th>
              <th scope="col">{t('colChat')}</th>
              {figures && <th scope="col">{t('colUsers')}</th>}
              {figures && <th scope="col">{t('colOnline')}</th>}
              {figures && <th scope="col">{t('colRulesKind')}</th>}
            </tr>
          </thead>
          <tbody>
            {data.map((s) => (
              <tr key={s.id}>
                <th scope="row">
                  <a href={href('s', s.id, 'access')}>{s.name}</a>
                </th>
                <td>{s.id}</td>
                <td>{accessText(s.effective ?? { enabled: s.enabled, profiles: s.profiles })}</td>
                {figures && <td class="num">{s.access_only ? '—' : s.users}</td>}
                {figures && <td class="num">{s.access_only ? '—' : s.online}</td>}
                {figures && <td>{s.access_only ? '—' : t(s.custom_rules ? 'rulesCustom' : 'rulesDefault')}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
