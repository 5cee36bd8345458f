// The admin API (docs/admin-api.md) as typed calls. The session cookie is
// HttpOnly and sent by the browser; every call other than GET carries the
// session's CSRF token in `X-CSRF-Token`. Errors come back as `ApiError`
// with the server's French and English messages and the field at fault.

export type Profile = 'student' | 'relative' | 'teacher' | 'personnel' | 'guest';
export const PROFILES: Profile[] = ['student', 'relative', 'teacher', 'personnel', 'guest'];

export type Scope = 'same_class' | 'same_structure' | 'own_children' | 'children_classes';
export const SCOPES: Scope[] = ['same_class', 'same_structure', 'own_children', 'children_classes'];

export interface Rule {
  from: Profile[];
  to: Profile[];
  scope: Scope;
  two_way: boolean;
}

export interface Session {
  login: string;
  name: string;
  /**
   * `safety`: a structure's safety staff only (reads its reports, administers nothing);
   * `collectivite`: a collectivité's administrator only (sets the chat access of the
   * collectivité and of its structures, sees none of their users).
   */
  role: 'super' | 'local' | 'safety' | 'collectivite';
  structures: { id: string; name: string }[];
  /** The structures whose reports (« Signalements ») the caller reads. */
  report_structures?: { id: string; name: string }[];
  /** The structures whose members' archives the caller may read under a grant. */
  archive_structures?: { id: string; name: string }[];
  /** The collectivités the caller administers (every one for the super-administrator). */
  collectivites?: { id: string; name: string; kind: CollectiviteKind }[];
  /** The structures whose chat access the caller may set (his own and his collectivités'). */
  access_structures?: { id: string; name: string }[];
  csrf: string;
}

/** One of an account's app passwords (never its secret). */
export interface AppPassword {
  id: number;
  label: string;
  created_ms: number;
  /** The administrator who made it; null: the user himself. */
  created_by: string | null;
  last_used_ms: number | null;
}

/** An app password just made: its secret, once, and where to use it. */
export interface NewAppPassword extends AppPassword {
  secret: string;
  jid: string;
  server: string;
}

export type CollectiviteKind = 'region' | 'departement' | 'commune';

export interface Access {
  enabled: boolean;
  profiles: Profile[];
}

/** A collectivité that covers a structure, with its access. */
export interface Above {
  id: string;
  name: string;
  kind: CollectiviteKind;
  access: Access;
}

export interface Collectivite {
  id: string;
  name: string;
  kind: CollectiviteKind;
  access: Access;
  structures: { id: string; name: string; access: Access; effective: Access }[];
}

export type ReportStatus = 'new' | 'in_progress' | 'closed';
export const REPORT_STATUSES: ReportStatus[] = ['new', 'in_progress', 'closed'];
/** What the staff may do from a report (the server checks each). */
export type ReportAction = 'delete_messages' | 'block' | 'remove_from_room' | 'lock' | 'close_room';

export interface ReportPerson {
  jid: string;
  login?: string;
  name?: string;
  profile?: Profile;
}

export interface Report {
  id: number;
  structure: string;
  reporter: ReportPerson;
  reported: ReportPerson;
  room: string | null;
  reason: 'abuse' | 'spam' | 'other';
  text: string;
  stanza_ids: string[];
  status: ReportStatus;
  created: string;
  updated: string;
}

export interface SafetyStaff {
  structure: string;
  /** Named by the structure's administrators; null: none named (its CPE and direction from the directory read, else its local administrators). */
  safety_staff: { login: string; name: string | null }[] | null;
  readers: { login: string; name: string | null }[];
  candidates: { login: string; name: string }[];
}

export interface ReportDetail extends Report {
  messages: { stanza_id: string; sender: ReportPerson; body: string; time: string; reported: boolean }[];
  notes: { author: string; author_name: string | null; text: string; time: string }[];
}

export interface ArchiveGrant {
  id: number;
  structure: string;
  grantee: string;
  grantee_name: string | null;
  login: string;
  name: string | null;
  reason: string;
  created: string;
  expires: string;
  active: boolean;
  rooms?: { name: string; title: string }[];
}

export interface ArchiveMessage {
  id: string;
  from: string;
  to?: string;
  nick?: string;
  body: string;
  time: string;
}

export interface ArchivePage {
  grant: number;
  login: string;
  messages: ArchiveMessage[];
  complete: boolean;
}

export interface StructureSummary {
  id: string;
  name: string;
  enabled: boolean;
  profiles: Profile[];
  /** Absent for a structure the caller sets the access of through a collectivité only. */
  users?: number;
  online?: number;
  custom_rules?: boolean;
  access_only?: boolean;
  effective: Access;
  collectivites: Above[];
}

export interface Structure {
  id: string;
  name: string;
  enabled: boolean;
  profiles: Profile[];
  /** Its own setting narrowed by its collectivités'. */
  effective: Access;
  collectivites: Above[];
  /** Seen through a collectivité only: the access, nothing else. */
  access_only?: boolean;
  custom_rules: boolean;
  rules: Rule[];
  default_rules: Rule[];
  /** The quiet hours in force (its own or the default), null for none. */
  quiet_hours?: QuietHours | null;
  quiet_hours_own?: boolean;
  shutdown?: { mode: ShutdownMode; message?: string };
  /** Whether its pupils may have profile photos, and whether it chose (else the default, off). */
  pupil_photos?: boolean;
  pupil_photos_own?: boolean;
  /** Who may have app passwords for standard XMPP apps (default: adults yes, pupils no). */
  app_passwords?: { pupils: boolean; adults: boolean };
  /** The structure chose it (false: the default). */
  app_passwords_own?: boolean;
}

export type ShutdownMode = 'normal' | 'staff_to_families' | 'read_only' | 'off';

export interface QuietWindow {
  profiles: Profile[];
  start: string;
  end: string;
}

export interface QuietHours {
  time_zone: string;
  windows: QuietWindow[];
}

export interface User {
  login: string;
  name: string;
  profile: Profile;
  structures: string[];
  classes: string[];
}

export interface UserCard extends User {
  groups: { id: string; name: string }[];
  children?: (User | string)[];
  parents?: (User | string)[];
  chat_allowed: boolean;
  chat_refused_because: string | null;
  locked: boolean;
  sessions: { resource: string; transport: string; since: string; address?: string; agent?: string | null }[];
}

export interface Group {
  id: string;
  name: string;
  structure: string | null;
  members: User[];
}

export interface Reach {
  total: number;
  users: (User & { why: 'rule' | 'group' | 'link' | string; group?: string | { id: string; name: string } })[];
}

export interface Live {
  online_users: number;
  sessions: number;
  /** Whole-server figures: the super-administrator's only (null for a local administrator). */
  rooms: number | null;
  messages_last_minute: number | null;
  messages_per_minute: number[] | null;
  uptime_s: number;
  version: string;
  store: 'ok' | 'error';
  last_import: {
    at: string;
    source: string;
    ok: boolean;
    counts: Record<string, number>;
    errors: string[];
  } | null;
}

export interface AuditRow {
  id: number | string;
  at: string;
  actor: string;
  action: string;
  structure: string | null;
  target: string | null;
  before: unknown;
  after: unknown;
}

export interface Admin {
  login: string;
  name: string;
  role: 'super' | 'local' | 'collectivite';
  structures: string[];
  collectivites?: string[];
  source: 'config' | 'grant' | 'import' | string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    public messageFr: string,
    public messageEn: string,
    public field?: string,
    public retryAfter?: number,
  ) {
    super(messageFr || code);
  }
}

const BASE = '/admin/api';
let csrf = '';
let onExpired: (e: ApiError) => void = () => {};

/**
 * Called when the server says the session is gone (expired, logged out
 * elsewhere), that its holder is no longer an administrator, or that his
 * account was locked or deactivated (the server then ended his sessions).
 */
export function whenExpired(f: (e: ApiError) => void) {
  onExpired = f;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  let r: Response;
  try {
    r = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', '', '');
  }
  const text = await r.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    const e = (data as { error?: Record<string, unknown> } | null)?.error ?? {};
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const retry = Number(e.retry_after_s ?? r.headers.get('retry-after') ?? NaN);
    const err = new ApiError(
      r.status,
      str(e.code) || `http-${r.status}`,
      str(e.message_fr),
      str(e.message_en),
      str(e.field) || undefined,
      Number.isFinite(retry) ? retry : undefined,
    );
    const gone =
      (r.status === 401 && err.code === 'no-session') ||
      (r.status === 403 && ['not-admin', 'account-locked', 'account-inactive'].includes(err.code));
    if (gone && path !== '/session' && path !== '/login') onExpired(err);
    throw err;
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  async session(): Promise<Session> {
    const s = await call<Session>('GET', '/session');
    csrf = s.csrf;
    return s;
  },
  async login(login: string, password: string): Promise<Session> {
    const s = await call<Session>('POST', '/login', { login, password });
    if (s && typeof s.csrf === 'string') {
      csrf = s.csrf;
      return s;
    }
    return api.session();
  },
  async logout(): Promise<void> {
    await call('POST', '/logout');
    csrf = '';
  },

  structures: () => call<StructureSummary[]>('GET', '/structures'),
  structure: (id: string) => call<Structure>('GET', `/structures/${enc(id)}`),
  setAccess: (id: string, enabled: boolean, profiles: Profile[]) =>
    call<Structure>('PUT', `/structures/${enc(id)}/access`, { enabled, profiles }),
  setRules: (id: string, rules: Rule[]) => call<Structure>('PUT', `/structures/${enc(id)}/rules`, { rules }),
  resetRules: (id: string) => call<Structure>('DELETE', `/structures/${enc(id)}/rules`),
  setShutdown: (id: string, mode: ShutdownMode, message?: string) =>
    call<Structure>('PUT', `/structures/${enc(id)}/shutdown`, { mode, message }),
  setQuietHours: (id: string, quiet: QuietHours) => call<Structure>('PUT', `/structures/${enc(id)}/quiet-hours`, quiet),
  resetQuietHours: (id: string) => call<Structure>('DELETE', `/structures/${enc(id)}/quiet-hours`),

  groups: (structure: string) => call<Group[]>('GET', `/structures/${enc(structure)}/groups`),
  createGroup: (structure: string, name: string, members: string[] = []) =>
    call<Group>('POST', `/structures/${enc(structure)}/groups`, { name, members }),
  renameGroup: (gid: string, name: string) => call<Group>('PUT', `/groups/${enc(gid)}`, { name }),
  deleteGroup: (gid: string) => call<unknown>('DELETE', `/groups/${enc(gid)}`),
  addMember: (gid: string, login: string) => call<unknown>('POST', `/groups/${enc(gid)}/members`, { login }),
  removeMember: (gid: string, login: string) =>
    call<unknown>('DELETE', `/groups/${enc(gid)}/members/${enc(login)}`),
  groupReach: (gid: string) => call<{ from: User; to: User }[]>('GET', `/groups/${enc(gid)}/reach`),

  users: (q: string, structure?: string, limit = 50) => {
    const p = new URLSearchParams({ q, limit: String(limit) });
    if (structure) p.set('structure', structure);
    return call<User[]>('GET', `/users?${p}`);
  },
  user: (login: string) => call<UserCard>('GET', `/users/${enc(login)}`),
  disconnect: (login: string) => call<{ disconnected: number }>('POST', `/users/${enc(login)}/disconnect`),
  lock: (login: string) => call<UserCard>('POST', `/users/${enc(login)}/lock`),
  unlock: (login: string) => call<UserCard>('POST', `/users/${enc(login)}/unlock`),
  userReach: (login: string, limit = 200) => call<Reach>('GET', `/users/${enc(login)}/reach?limit=${limit}`),
  appPasswords: (login: string) =>
    call<{ allowed: boolean; max: number; items: AppPassword[] }>('GET', `/users/${enc(login)}/app-passwords`),
  createAppPassword: (login: string, label: string) =>
    call<NewAppPassword>('POST', `/users/${enc(login)}/app-passwords`, { label }),
  revokeAppPassword: (login: string, id: number) =>
    call<{ allowed: boolean; max: number; items: AppPassword[] }>('DELETE', `/users/${enc(login)}/app-passwords/${id}`),

  live: () => call<Live>('GET', '/live'),
  audit: (structure?: string, before?: string | number, limit = 50) => {
    const p = new URLSearchParams({ limit: String(limit) });
    if (structure) p.set('structure', structure);
    if (before !== undefined) p.set('before', String(before));
    return call<AuditRow[]>('GET', `/audit?${p}`);
  },
  auditCsvUrl: (structure?: string) =>
    `${BASE}/audit.csv${structure ? `?structure=${enc(structure)}` : ''}`,

  reports: (structure: string) => call<Report[]>('GET', `/structures/${enc(structure)}/reports`),
  report: (id: number | string) => call<ReportDetail>('GET', `/reports/${enc(String(id))}`),
  setReportStatus: (id: number, status: ReportStatus) =>
    call<ReportDetail>('PUT', `/reports/${id}/status`, { status }),
  addReportNote: (id: number, text: string) => call<ReportDetail>('POST', `/reports/${id}/notes`, { text }),
  reportAction: (id: number, action: ReportAction) =>
    call<ReportDetail & { done: { action: ReportAction; changed: boolean; count: number } }>(
      'POST',
      `/reports/${id}/actions`,
      { action },
    ),

  safetyStaff: (structure: string) => call<SafetyStaff>('GET', `/structures/${enc(structure)}/safety-staff`),
  setSafetyStaff: (structure: string, logins: string[]) =>
    call<SafetyStaff>('PUT', `/structures/${enc(structure)}/safety-staff`, { logins }),
  resetSafetyStaff: (structure: string) => call<SafetyStaff>('DELETE', `/structures/${enc(structure)}/safety-staff`),

  archiveGrants: (structure: string) =>
    call<ArchiveGrant[]>('GET', `/structures/${enc(structure)}/archive-access`),
  askArchiveGrant: (structure: string, login: string, reason: string, hours?: number) =>
    call<ArchiveGrant>('POST', `/structures/${enc(structure)}/archive-access`, hours ? { login, reason, hours } : { login, reason }),
  archiveGrant: (gid: string) => call<ArchiveGrant>('GET', `/archive-access/${enc(gid)}`),
  archiveMessages: (gid: string, what: { with?: string; room?: string; before?: string }) => {
    const p = new URLSearchParams({ limit: '50' });
    if (what.with) p.set('with', what.with);
    if (what.room) p.set('room', what.room);
    if (what.before) p.set('before', what.before);
    return call<ArchivePage>('GET', `/archive-access/${enc(gid)}/messages?${p}`);
  },
  setAppPasswordsPolicy: (id: string, policy: { pupils: boolean; adults: boolean } | null) =>
    policy === null
      ? call<Structure>('DELETE', `/structures/${enc(id)}/app-passwords`)
      : call<Structure>('PUT', `/structures/${enc(id)}/app-passwords`, policy),
  setPupilPhotos: (id: string, allowed: boolean | null) =>
    allowed === null
      ? call<Structure>('DELETE', `/structures/${enc(id)}/pupil-photos`)
      : call<Structure>('PUT', `/structures/${enc(id)}/pupil-photos`, { allowed }),
  exportUrl: (login: string) => `${BASE}/users/${enc(login)}/export`,

  collectivites: () => call<Collectivite[]>('GET', '/collectivites'),
  collectivite: (id: string) => call<Collectivite>('GET', `/collectivites/${enc(id)}`),
  setCollectiviteAccess: (id: string, enabled: boolean, profiles: Profile[]) =>
    call<Collectivite>('PUT', `/collectivites/${enc(id)}/access`, { enabled, profiles }),
  collectiviteAdmins: (id: string) =>
    call<{ login: string; name: string }[]>('GET', `/collectivites/${enc(id)}/admins`),
  grantCollectivite: (id: string, login: string) =>
    call<{ login: string; name: string }[]>('POST', `/collectivites/${enc(id)}/admins`, { login }),
  revokeCollectivite: (id: string, login: string) =>
    call<unknown>('DELETE', `/collectivites/${enc(id)}/admins/${enc(login)}`),

  admins: () => call<Admin[]>('GET', '/admins'),
  grant: (login: string, structures: string[]) => call<unknown>('POST', '/admins', { login, structures }),
  revoke: (login: string, structure: string) =>
    call<unknown>('DELETE', `/admins/${enc(login)}/structures/${enc(structure)}`),
};
