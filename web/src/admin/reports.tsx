// « Signalements »: the reports of the structures whose reports the caller
// reads (the server decides which: their safety staff, else their local
// administrators), one report with the messages copied when it was made and
// the staff's notes, its status and a new note, and the staff's actions
// (delete the reported messages, block the pair, remove from the room, lock
// the account, close the room), each after a confirmation. Every read and
// action is audited by the server. Everything from the data is inserted as
// text, never as markup.

import { useState } from 'preact/hooks';
import {
  REPORT_STATUSES,
  api,
  type ReportAction,
  type ReportDetail,
  type ReportPerson,
  type ReportStatus,
  type SafetyStaff,
  type Session,
} from './api';
import { formatDate, t, tk } from './i18n';
import { Confirm, ErrorText, Loading, ScreenHeading, announce, go, href, structureName, useLoad, useUid } from './ui';

const personName = (p: ReportPerson) => p.name ?? p.jid;

/** `#/reports[/SID]`: the list of one structure's reports. */
export function ReportsScreen({ session, sid }: { session: Session; sid?: string }) {
  const structures = session.report_structures ?? [];
  const current = sid ?? structures[0]?.id;
  const selectId = useUid('reports-structure');
  const { data, error } = useLoad(
    () => (current ? api.reports(current) : Promise.resolve([])),
    [current],
  );
  return (
    <>
      <ScreenHeading>{t('reportsHeading')}</ScreenHeading>
      <p>{t('reportsIntro')}</p>
      {structures.length > 1 && (
        <p class="field">
          <label for={selectId}>{t('reportsStructure')}</label>{' '}
          <select id={selectId} value={current} onChange={(e) => go('reports', (e.target as HTMLSelectElement).value)}>
            {structures.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </p>
      )}
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('noReport')}</p>}
      {data && data.length > 0 && current && (
        <table class="data">
          <caption>{t('reportsCaption', { name: structureName(current) })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colReport')}</th>
              <th scope="col">{t('colDate')}</th>
              <th scope="col">{t('colStatus')}</th>
              <th scope="col">{t('colReporter')}</th>
              <th scope="col">{t('colReported')}</th>
              <th scope="col">{t('colReason')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((r) => (
              <tr key={r.id} class={r.status === 'new' ? 'report-new' : undefined}>
                <th scope="row">
                  <a href={href('reports', r.structure, String(r.id))}>{t('reportOpen', { id: r.id })}</a>
                </th>
                <td>{formatDate(r.created)}</td>
                <td>{tk('status_', r.status)}</td>
                <td>{personName(r.reporter)}</td>
                <td>{personName(r.reported)}</td>
                <td>{tk('reason_', r.reason)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** `#/reports/SID/RID`: one report. */
export function ReportScreen({ sid, rid }: { sid: string; rid: string }) {
  const { data, error, setData } = useLoad(() => api.report(rid), [rid]);
  return (
    <>
      <ScreenHeading>{t('reportHeading', { id: rid })}</ScreenHeading>
      <p>
        <a href={href('reports', sid)}>{t('reportBack')}</a>
      </p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && <ReportBody report={data} onChange={setData} />}
    </>
  );
}

function ReportBody({ report, onChange }: { report: ReportDetail; onChange: (r: ReportDetail) => void }) {
  const statusId = useUid('report-status');
  const noteId = useUid('report-note');
  const noteErrorId = useUid('report-note-error');
  const [status, setStatus] = useState<ReportStatus>(report.status);
  const [note, setNote] = useState('');
  const [statusError, setStatusError] = useState<unknown>(null);
  const [noteError, setNoteError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const saveStatus = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setStatusError(null);
    try {
      const r = await api.setReportStatus(report.id, status);
      onChange(r);
      announce(t('reportStatusSaved', { status: tk('status_', r.status) }));
    } catch (err) {
      setStatusError(err);
    } finally {
      setBusy(false);
    }
  };
  const addNote = async (e: Event) => {
    e.preventDefault();
    if (!note.trim()) {
      setNoteError(new Error(t('reportNoteMissing')));
      document.getElementById(noteId)?.focus();
      return;
    }
    setBusy(true);
    setNoteError(null);
    try {
      const r = await api.addReportNote(report.id, note);
      onChange(r);
      setNote('');
      announce(t('reportNoteAdded'));
    } catch (err) {
      setNoteError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <dl class="card">
        <dt>{t('colStatus')}</dt>
        <dd>{tk('status_', report.status)}</dd>
        <dt>{t('colDate')}</dt>
        <dd>{formatDate(report.created)}</dd>
        <dt>{t('colReporter')}</dt>
        <dd>{personName(report.reporter)}</dd>
        <dt>{t('colReported')}</dt>
        <dd>{personName(report.reported)}</dd>
        <dt>{t('reportRoom')}</dt>
        <dd>{report.room ?? t('reportNoRoom')}</dd>
        <dt>{t('colReason')}</dt>
        <dd>{tk('reason_', report.reason)}</dd>
        <dt>{t('reportText')}</dt>
        <dd class="report-text">{report.text || t('reportNoText')}</dd>
      </dl>

      <h2>{t('reportMessages')}</h2>
      <p class="hint">{t('reportMessagesIntro')}</p>
      {report.messages.length === 0 && <p class="empty">{t('reportNoMessage')}</p>}
      {report.messages.length > 0 && (
        <ol class="report-messages">
          {report.messages.map((m) => (
            <li key={m.stanza_id} class={m.reported ? 'reported' : undefined}>
              {m.reported && <strong class="report-flag">{t('reportReported')} </strong>}
              <span class="report-meta">
                {personName(m.sender)} — {formatDate(m.time)}
              </span>
              <p class="report-body">{m.body}</p>
            </li>
          ))}
        </ol>
      )}

      <ReportActions report={report} onChange={onChange} />

      <h2>{t('colStatus')}</h2>
      <form onSubmit={saveStatus} class="inline-form">
        <label for={statusId}>{t('reportStatusLabel')}</label>{' '}
        <select id={statusId} value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as ReportStatus)}>
          {REPORT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {tk('status_', s)}
            </option>
          ))}
        </select>{' '}
        <button type="submit" disabled={busy}>
          {t('reportStatusSave')}
        </button>
        <ErrorText error={statusError} />
      </form>

      <h2>{t('reportNotes')}</h2>
      {report.notes.length === 0 && <p class="empty">{t('reportNoNote')}</p>}
      {report.notes.length > 0 && (
        <ul class="report-notes">
          {report.notes.map((n, i) => (
            <li key={i}>
              <p class="report-meta">{t('reportNoteBy', { name: n.author_name ?? n.author, time: formatDate(n.time) })}</p>
              <p class="report-body">{n.text}</p>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={addNote}>
        <p class="field">
          <label for={noteId}>{t('reportNoteLabel')}</label>
          <textarea
            id={noteId}
            rows={3}
            maxLength={2000}
            value={note}
            aria-invalid={noteError ? 'true' : undefined}
            aria-describedby={noteError ? noteErrorId : undefined}
            onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
          />
        </p>
        <ErrorText error={noteError} id={noteErrorId} />
        <button type="submit" disabled={busy}>
          {t('reportNoteAdd')}
        </button>
      </form>
    </>
  );
}

/** The staff's actions on a report: which apply depends on it (a room or not). */
function ReportActions({ report, onChange }: { report: ReportDetail; onChange: (r: ReportDetail) => void }) {
  const [asking, setAsking] = useState<ReportAction | null>(null);
  const [error, setError] = useState<unknown>(null);
  const actions: ReportAction[] = [
    ...(report.stanza_ids.length > 0 ? (['delete_messages'] as const) : []),
    'block',
    ...(report.room ? (['remove_from_room'] as const) : []),
    ...(report.reported.login ? (['lock'] as const) : []),
    ...(report.room ? (['close_room'] as const) : []),
  ];
  const who = personName(report.reported);
  return (
    <>
      <h2>{t('reportActions')}</h2>
      <p class="hint">{t('reportActionsIntro')}</p>
      <div class="buttons">
        {actions.map((a) => (
          <button key={a} type="button" onClick={() => setAsking(a)}>
            {tk('action_', a)}
          </button>
        ))}
      </div>
      <ErrorText error={error} />
      {asking && (
        <Confirm
          title={tk('action_', asking)}
          text={tk('actionConfirm_', asking, { name: who, room: report.room ?? '' })}
          onClose={() => setAsking(null)}
          onYes={async () => {
            setError(null);
            const r = await api.reportAction(report.id, asking);
            setAsking(null);
            onChange(r);
            announce(tk('actionDone_', asking, { n: r.done.count }));
          }}
        />
      )}
    </>
  );
}

/**
 * `#/s/SID/safety`: who reads the structure's reports — the safety staff its
 * administrators name (teachers or staff of the structure), else its local
 * administrators. « Enregistrer », « Revenir au choix par défaut ».
 */
export function SafetyStaffScreen({ sid }: { sid: string }) {
  const { data, error, setData } = useLoad(() => api.safetyStaff(sid), [sid]);
  return (
    <>
      <ScreenHeading>{t('safetyHeading')}</ScreenHeading>
      <p>{t('safetyIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && <SafetyForm key={JSON.stringify(data.safety_staff)} staff={data} onChange={setData} />}
    </>
  );
}

function SafetyForm({ staff, onChange }: { staff: SafetyStaff; onChange: (s: SafetyStaff) => void }) {
  const [chosen, setChosen] = useState<string[]>((staff.safety_staff ?? []).map((p) => p.login));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const errorId = useUid('safety-error');
  const run = async (f: () => Promise<SafetyStaff>, said: string) => {
    setBusy(true);
    setError(null);
    try {
      const s = await f();
      onChange(s);
      announce(said);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (chosen.length === 0) {
      setError(new Error(t('safetyNone')));
      return;
    }
    void run(() => api.setSafetyStaff(staff.structure, chosen), t('safetySaved'));
  };
  const names = (l: { login: string; name: string | null }[]) => l.map((p) => p.name ?? p.login).join(', ');
  return (
    <form class="panel" onSubmit={submit} noValidate>
      <p>
        {staff.safety_staff === null
          ? t('safetyDefault', { names: names(staff.readers) || t('safetyNobody') })
          : t('safetyNamed', { names: names(staff.readers) })}
      </p>
      <fieldset aria-describedby={error ? errorId : undefined}>
        <legend>{t('safetyChoose')}</legend>
        {staff.candidates.length === 0 && <p class="empty">{t('safetyNoCandidate')}</p>}
        {staff.candidates.map((c) => {
          const id = `safety-${c.login}`;
          return (
            <div class="check" key={c.login}>
              <input
                id={id}
                type="checkbox"
                checked={chosen.includes(c.login)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setChosen((l) => (on ? [...l.filter((x) => x !== c.login), c.login] : l.filter((x) => x !== c.login)));
                }}
              />
              <label for={id}>{c.name}</label>
            </div>
          );
        })}
      </fieldset>
      <ErrorText error={error} id={errorId} />
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          {t('safetySave')}
        </button>
        {staff.safety_staff !== null && (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run(() => api.resetSafetyStaff(staff.structure), t('safetyResetDone'))}
          >
            {t('safetyReset')}
          </button>
        )}
      </div>
    </form>
  );
}
