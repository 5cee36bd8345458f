// A structure's « Accès au service Chat » (on/off, the profiles allowed, and
// what is in force under its collectivités) and its communication rules: a readable table, a dialog to add or change a
// rule, deletion and « Rétablir les règles par défaut » after a confirmation.

import { useState } from 'preact/hooks';
import { type Access, PROFILES, type Profile, type Rule, SCOPES, type Scope, type Structure, api } from './api';
import { profileName, profilesName, scopeName, t, tk } from './i18n';
import {
  Confirm,
  ErrorText,
  Loading,
  Modal,
  ScreenHeading,
  announce,
  errorFor,
  invalid,
  localError,
  useLoad,
  useUid,
} from './ui';

export function AccessScreen({ sid }: { sid: string }) {
  const { data, error } = useLoad(() => api.structure(sid), [sid]);
  return (
    <>
      <ScreenHeading>{t('accessHeading')}</ScreenHeading>
      <p>{t('accessIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data?.access_only && <p class="hint">{t('accessOnlyNote')}</p>}
      {data && <StructureAccess structure={data} />}
      {data && !data.access_only && <PupilPhotos structure={data} />}
      {data && !data.access_only && <AppPasswordsPolicy structure={data} />}
    </>
  );
}

/** The structure's own setting, and what is in force under its collectivités. */
function StructureAccess({ structure }: { structure: Structure }) {
  const [s, setS] = useState(structure);
  return (
    <>
      <AccessForm
        initial={s}
        label={t('accessEnabled')}
        saved={t('accessSaved')}
        save={async (enabled, profiles) => {
          const next = await api.setAccess(s.id, enabled, profiles);
          setS(next);
          return next;
        }}
      />
      {s.collectivites && s.collectivites.length > 0 && <Effective structure={s} />}
    </>
  );
}

/** « Réglage en vigueur »: the intersection of the structure's and its collectivités'. */
function Effective({ structure }: { structure: Structure }) {
  const e = structure.effective;
  const names = (ps: Profile[]) => ps.map(profilesName).join(', ');
  return (
    <section class="panel" aria-labelledby="effective-heading">
      <h2 id="effective-heading">{t('effectiveHeading')}</h2>
      <p class={e.enabled ? '' : 'error'} id="effective-access">
        {!e.enabled
          ? t('effectiveOff')
          : e.profiles.length === 0
            ? t('effectiveNobody')
            : t('effectiveOn', { profiles: names(e.profiles) })}
      </p>
      <p>
        {t('limitedBy', {
          list: structure.collectivites
            .map((c) =>
              c.access.enabled
                ? t('collectiviteOn', { name: c.name, kind: tk('kind_', c.kind), profiles: names(c.access.profiles) })
                : t('collectiviteOff', { name: c.name, kind: tk('kind_', c.kind) }),
            )
            .join(' ; '),
        })}
      </p>
    </section>
  );
}

/** Whether the structure's pupils may have profile photos (off by default). */
function PupilPhotos({ structure }: { structure: Structure }) {
  const [on, setOn] = useState(!!structure.pupil_photos);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = async (allowed: boolean | null) => {
    setBusy(true);
    setError(null);
    try {
      const s = await api.setPupilPhotos(structure.id, allowed);
      setOn(!!s.pupil_photos);
      announce(t('pupilPhotosSaved'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel">
      <h2>{t('pupilPhotosHeading')}</h2>
      <p>{t('pupilPhotosIntro')}</p>
      <p>{t(on ? 'pupilPhotosOn' : 'pupilPhotosOff')}</p>
      <ErrorText error={error} />
      <button type="button" disabled={busy} onClick={() => void set(on ? null : true)}>
        {t(on ? 'pupilPhotosForbid' : 'pupilPhotosAllow')}
      </button>
    </section>
  );
}

/**
 * Who may have app passwords for standard XMPP apps (« Mots de passe d'application »):
 * pupils and adults separately; a refusal also ends the sessions opened with one.
 */
function AppPasswordsPolicy({ structure }: { structure: Structure }) {
  const initial = structure.app_passwords ?? { pupils: false, adults: true };
  const [pupils, setPupils] = useState(initial.pupils);
  const [adults, setAdults] = useState(initial.adults);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const pupilsId = useUid('app-passwords-pupils');
  const adultsId = useUid('app-passwords-adults');
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api.setAppPasswordsPolicy(structure.id, { pupils, adults });
      setPupils(!!s.app_passwords?.pupils);
      setAdults(!!s.app_passwords?.adults);
      announce(t('appPasswordsPolicySaved'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="app-passwords-policy">
      <h2 id="app-passwords-policy">{t('appPasswordsHeading')}</h2>
      <p>{t('appPasswordsPolicyIntro')}</p>
      <form onSubmit={save} noValidate>
        <div class="check">
          <input
            id={pupilsId}
            type="checkbox"
            checked={pupils}
            onChange={(e) => setPupils((e.target as HTMLInputElement).checked)}
          />
          <label for={pupilsId}>{t('appPasswordsPolicyPupils')}</label>
        </div>
        <div class="check">
          <input
            id={adultsId}
            type="checkbox"
            checked={adults}
            onChange={(e) => setAdults((e.target as HTMLInputElement).checked)}
          />
          <label for={adultsId}>{t('appPasswordsPolicyAdults')}</label>
        </div>
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          {t('appPasswordsPolicySave')}
        </button>
      </form>
    </section>
  );
}

/** On/off and the profiles allowed, for a structure or a collectivité (`save`). */
export function AccessForm({
  initial,
  label,
  saved,
  save,
}: {
  initial: Access;
  label: string;
  saved: string;
  save: (enabled: boolean, profiles: Profile[]) => Promise<Access>;
}) {
  const [enabled, setEnabled] = useState(initial.enabled);
  const [profiles, setProfiles] = useState<Profile[]>(initial.profiles);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const ids = { enabled: useUid('enabled-error'), profiles: useUid('profiles-error'), form: useUid('access-error') };
  const fields = ['enabled', 'profiles'];
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await save(enabled, PROFILES.filter((p) => profiles.includes(p)));
      setEnabled(s.enabled);
      setProfiles(s.profiles);
      announce(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const enabledError = errorFor(error, 'enabled', fields);
  const profilesError = errorFor(error, 'profiles', fields);
  return (
    <form class="panel" onSubmit={submit} noValidate>
      <div class="check">
        <input
          id="access-enabled"
          type="checkbox"
          role="switch"
          checked={enabled}
          {...invalid(enabledError, ids.enabled)}
          onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)}
        />
        <label for="access-enabled">{label}</label>
      </div>
      <ErrorText error={enabledError} id={ids.enabled} />
      <fieldset {...invalid(profilesError, ids.profiles)} disabled={!enabled}>
        <legend>{t('accessProfiles')}</legend>
        {PROFILES.map((p) => (
          <div class="check" key={p}>
            <input
              id={`access-${p}`}
              type="checkbox"
              checked={profiles.includes(p)}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                setProfiles((ps) => (on ? [...ps.filter((x) => x !== p), p] : ps.filter((x) => x !== p)));
              }}
            />
            <label for={`access-${p}`}>{profileName(p)}</label>
          </div>
        ))}
      </fieldset>
      <ErrorText error={profilesError} id={ids.profiles} />
      <ErrorText error={errorFor(error, '', fields)} id={ids.form} />
      <p class="hint">{t('accessNote')}</p>
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          {t('accessSave')}
        </button>
      </div>
    </form>
  );
}

// ------------------------------------------------------------ rules

const list = (ps: Profile[]) => ps.map(profilesName).join(', ');

export function ruleSentence(r: Rule): string {
  return t('ruleSentence', {
    from: list(r.from),
    to: list(r.to),
    scope: scopeName(r.scope),
    direction: t(r.two_way ? 'twoWay' : 'oneWay'),
  });
}

type Editing = { index: number | null } | null;

export function RulesScreen({ sid }: { sid: string }) {
  const { data, error, setData } = useLoad(() => api.structure(sid), [sid]);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<{ index: number; sentence: string } | null>(null);
  const [resetting, setResetting] = useState(false);
  const [showDefaults, setShowDefaults] = useState(false);
  const s = data;
  const save = async (rules: Rule[], done: string) => {
    const next = await api.setRules(sid, rules);
    setData(next);
    announce(done);
  };
  return (
    <>
      <ScreenHeading>{t('rulesHeading')}</ScreenHeading>
      <p>{t('rulesIntro')}</p>
      <ErrorText error={error} />
      {!s && !error && <Loading />}
      {s && (
        <>
          <p class="rules-state">{t(s.custom_rules ? 'rulesStateCustom' : 'rulesStateDefault')}</p>
          <RulesTable
            rules={s.rules}
            caption={t('rulesCaption')}
            onEdit={(i) => setEditing({ index: i })}
            onDelete={(i) => setDeleting({ index: i, sentence: ruleSentence(s.rules[i]) })}
          />
          <div class="buttons left">
            <button type="button" class="primary" onClick={() => setEditing({ index: null })}>
              {t('ruleAdd')}
            </button>
            <button type="button" onClick={() => setResetting(true)}>
              {t('rulesReset')}
            </button>
          </div>
          <details class="defaults" open={showDefaults} onToggle={(e) => setShowDefaults((e.target as HTMLDetailsElement).open)}>
            <summary>{t('showDefaults')}</summary>
            {showDefaults && <RulesTable rules={s.default_rules ?? []} caption={t('defaultRulesCaption')} />}
          </details>
          {editing && (
            <RuleDialog
              rule={editing.index === null ? null : s.rules[editing.index]}
              index={editing.index}
              onClose={() => setEditing(null)}
              onSave={async (rule) => {
                const i = editing.index;
                const rules = i === null ? [...s.rules, rule] : s.rules.map((r, j) => (j === i ? rule : r));
                await save(rules, i === null ? t('ruleAdded') : t('ruleChanged', { n: i + 1 }));
                setEditing(null);
              }}
            />
          )}
          {deleting !== null && (
            <Confirm
              title={t('ruleDeleteNamed', { n: deleting.index + 1 })}
              text={t('ruleConfirmDelete', { n: deleting.index + 1, rule: deleting.sentence })}
              onClose={() => setDeleting(null)}
              onYes={async () => {
                await save(
                  s.rules.filter((_, j) => j !== deleting.index),
                  t('ruleDeleted', { n: deleting.index + 1 }),
                );
                setDeleting(null);
              }}
            />
          )}
          {resetting && (
            <Confirm
              title={t('rulesReset')}
              text={t('rulesResetConfirm')}
              onClose={() => setResetting(false)}
              onYes={async () => {
                setData(await api.resetRules(sid));
                setResetting(false);
                announce(t('rulesResetDone'));
              }}
            />
          )}
        </>
      )}
    </>
  );
}

function RulesTable({
  rules,
  caption,
  onEdit,
  onDelete,
}: {
  rules: Rule[];
  caption: string;
  onEdit?: (i: number) => void;
  onDelete?: (i: number) => void;
}) {
  if (rules.length === 0) return <p class="empty">{t('rulesNone')}</p>;
  return (
    <table class="data rules">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t('colNumber')}</th>
          <th scope="col">{t('colFrom')}</th>
          <th scope="col">{t('colTo')}</th>
          <th scope="col">{t('colScope')}</th>
          <th scope="col">{t('colDirection')}</th>
          {onEdit && <th scope="col">{t('colActions')}</th>}
        </tr>
      </thead>
      <tbody>
        {rules.map((r, i) => (
          <tr key={i}>
            <th scope="row" class="num">
              {i + 1}
            </th>
            <td>{list(r.from)}</td>
            <td>{list(r.to)}</td>
            <td>
              {scopeName(r.scope)}
              <span class="hint block">{tk('scopeHelp_', r.scope)}</span>
            </td>
            <td class="nowrap">{r.two_way ? `⇄ ${t('twoWay')}` : `→ ${t('oneWay')}`}</td>
            {onEdit && onDelete && (
              <td class="actions">
                <button type="button" aria-label={t('ruleEditNamed', { n: i + 1 })} onClick={() => onEdit(i)}>
                  {t('ruleEdit')}
                </button>
                <button type="button" aria-label={t('ruleDeleteNamed', { n: i + 1 })} onClick={() => onDelete(i)}>
                  {t('ruleDelete')}
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ProfileChecks({
  legend,
  value,
  onChange,
  error,
  errorId,
  name,
}: {
  legend: string;
  value: Profile[];
  onChange: (ps: Profile[]) => void;
  error: unknown;
  errorId: string;
  name: string;
}) {
  return (
    <>
      <fieldset {...invalid(error, errorId)}>
        <legend>{legend}</legend>
        {PROFILES.map((p, i) => (
          <div class="check" key={p}>
            <input
              id={`${name}-${p}`}
              type="checkbox"
              checked={value.includes(p)}
              data-autofocus={name === 'rule-from' && i === 0 ? true : undefined}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                onChange(PROFILES.filter((x) => (x === p ? on : value.includes(x))));
              }}
            />
            <label for={`${name}-${p}`}>{profileName(p)}</label>
          </div>
        ))}
      </fieldset>
      <ErrorText error={error} id={errorId} />
    </>
  );
}

function RuleDialog({
  rule,
  index,
  onClose,
  onSave,
}: {
  rule: Rule | null;
  index: number | null;
  onClose: () => void;
  onSave: (r: Rule) => Promise<void>;
}) {
  const [from, setFrom] = useState<Profile[]>(rule?.from ?? []);
  const [to, setTo] = useState<Profile[]>(rule?.to ?? []);
  const [scope, setScope] = useState<Scope>(rule?.scope ?? 'same_structure');
  const [twoWay, setTwoWay] = useState(rule?.two_way ?? true);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const ids = {
    from: useUid('rule-from-error'),
    to: useUid('rule-to-error'),
    scope: useUid('rule-scope-error'),
    twoWay: useUid('rule-two-way-error'),
    form: useUid('rule-error'),
    scopeInput: useUid('rule-scope'),
    twoWayInput: useUid('rule-two-way'),
  };
  const fields = ['from', 'to', 'scope', 'two_way'];
  const submit = async (e: Event) => {
    e.preventDefault();
    if (from.length === 0) return setError(localError('from', t('ruleFromMissing')));
    if (to.length === 0) return setError(localError('to', t('ruleFromMissing')));
    setBusy(true);
    setError(null);
    try {
      await onSave({ from, to, scope, two_way: twoWay });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const fieldError = (f: string) => errorFor(error, f, fields);
  return (
    <Modal
      title={index === null ? t('ruleDialogAdd') : t('ruleDialogEdit', { n: index + 1 })}
      onClose={onClose}
    >
      <form onSubmit={submit} noValidate>
        <ProfileChecks
          legend={t('ruleFrom')}
          name="rule-from"
          value={from}
          onChange={setFrom}
          error={fieldError('from')}
          errorId={ids.from}
        />
        <ProfileChecks
          legend={t('ruleTo')}
          name="rule-to"
          value={to}
          onChange={setTo}
          error={fieldError('to')}
          errorId={ids.to}
        />
        <div class="field">
          <label for={ids.scopeInput}>{t('ruleScope')}</label>
          <select
            id={ids.scopeInput}
            value={scope}
            {...invalid(fieldError('scope'), ids.scope)}
            onChange={(e) => setScope((e.target as HTMLSelectElement).value as Scope)}
          >
            {SCOPES.map((sc) => (
              <option key={sc} value={sc}>
                {scopeName(sc)}
              </option>
            ))}
          </select>
          <ErrorText error={fieldError('scope')} id={ids.scope} />
        </div>
        <div class="check">
          <input
            id={ids.twoWayInput}
            type="checkbox"
            checked={twoWay}
            {...invalid(fieldError('two_way'), ids.twoWay)}
            onChange={(e) => setTwoWay((e.target as HTMLInputElement).checked)}
          />
          <label for={ids.twoWayInput}>{t('ruleTwoWay')}</label>
        </div>
        <ErrorText error={fieldError('two_way')} id={ids.twoWay} />
        <ErrorText error={fields.some((f) => fieldError(f)) ? null : error} id={ids.form} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            {t('ruleSave')}
          </button>
          <button type="button" onClick={onClose}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
