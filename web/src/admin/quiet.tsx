// A structure's « Heures calmes et coupure » (docs/safety.md): the kill switch
// (normal, staff to families, read-only, off) with the school's own text, and the
// quiet hours (time zone, windows per profile; back to the default).

import { useState } from 'preact/hooks';
import { PROFILES, type Profile, type QuietHours, type QuietWindow, type ShutdownMode, api } from './api';
import { profileName, t, tk } from './i18n';
import { ErrorText, Loading, ScreenHeading, announce, useLoad } from './ui';

const MODES: ShutdownMode[] = ['normal', 'staff_to_families', 'read_only', 'off'];

export function QuietScreen({ sid }: { sid: string }) {
  const { data, error } = useLoad(() => api.structure(sid), [sid]);
  return (
    <>
      <ScreenHeading>{t('quietHeading')}</ScreenHeading>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && (
        <>
          <ShutdownForm sid={sid} mode={data.shutdown?.mode ?? 'normal'} message={data.shutdown?.message ?? ''} />
          <QuietForm sid={sid} quiet={data.quiet_hours ?? null} own={!!data.quiet_hours_own} />
        </>
      )}
    </>
  );
}

function ShutdownForm(props: { sid: string; mode: ShutdownMode; message: string }) {
  const [mode, setMode] = useState<ShutdownMode>(props.mode);
  const [message, setMessage] = useState(props.message);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api.setShutdown(props.sid, mode, message.trim() || undefined);
      setMode(s.shutdown?.mode ?? 'normal');
      setMessage(s.shutdown?.message ?? '');
      announce(t('shutdownSaved'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} noValidate aria-labelledby="shutdown-heading">
      <h2 id="shutdown-heading">{t('shutdownHeading')}</h2>
      <p>{t('shutdownIntro')}</p>
      <fieldset>
        <legend>{t('shutdownMode')}</legend>
        {MODES.map((m) => (
          <div class="check" key={m}>
            <input
              id={`shutdown-${m}`}
              type="radio"
              name="shutdown-mode"
              checked={mode === m}
              onChange={() => setMode(m)}
            />
            <label for={`shutdown-${m}`}>{tk('shutdown_', m)}</label>
          </div>
        ))}
      </fieldset>
      <label for="shutdown-message">{t('shutdownMessage')}</label>
      <textarea
        id="shutdown-message"
        maxLength={500}
        rows={3}
        value={message}
        onInput={(e) => setMessage((e.target as HTMLTextAreaElement).value)}
      />
      <ErrorText error={error} />
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          {t('shutdownSave')}
        </button>
      </div>
    </form>
  );
}

const emptyWindow = (): QuietWindow => ({ profiles: ['student'], start: '21:00', end: '07:00' });

function QuietForm(props: { sid: string; quiet: QuietHours | null; own: boolean }) {
  const [zone, setZone] = useState(props.quiet?.time_zone ?? 'Europe/Paris');
  const [windows, setWindows] = useState<QuietWindow[]>(props.quiet?.windows ?? []);
  const [own, setOwn] = useState(props.own);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (f: () => Promise<{ quiet_hours?: QuietHours | null; quiet_hours_own?: boolean }>) => {
    setBusy(true);
    setError(null);
    try {
      const s = await f();
      setZone(s.quiet_hours?.time_zone ?? 'Europe/Paris');
      setWindows(s.quiet_hours?.windows ?? []);
      setOwn(!!s.quiet_hours_own);
      announce(t('quietSaved'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const update = (i: number, w: Partial<QuietWindow>) =>
    setWindows((ws) => ws.map((x, j) => (j === i ? { ...x, ...w } : x)));
  return (
    <form
      class="panel"
      noValidate
      aria-labelledby="quiet-heading"
      onSubmit={(e) => {
        e.preventDefault();
        void run(() => api.setQuietHours(props.sid, { time_zone: zone.trim(), windows }));
      }}
    >
      <h2 id="quiet-heading">{t('quietHoursHeading')}</h2>
      <p>{t('quietIntro')}</p>
      <p class="hint">{own ? t('quietOwn') : t('quietDefault')}</p>
      <label for="quiet-zone">{t('quietZone')}</label>
      <input id="quiet-zone" value={zone} onInput={(e) => setZone((e.target as HTMLInputElement).value)} />
      {windows.length === 0 && <p>{t('quietNone')}</p>}
      {windows.map((w, i) => (
        <fieldset key={i}>
          <legend>{t('quietWindow', { n: i + 1 })}</legend>
          <label for={`quiet-start-${i}`}>{t('quietStart')}</label>
          <input
            id={`quiet-start-${i}`}
            type="time"
            value={w.start}
            onInput={(e) => update(i, { start: (e.target as HTMLInputElement).value })}
          />
          <label for={`quiet-end-${i}`}>{t('quietEnd')}</label>
          <input
            id={`quiet-end-${i}`}
            type="time"
            value={w.end}
            onInput={(e) => update(i, { end: (e.target as HTMLInputElement).value })}
          />
          {PROFILES.map((p: Profile) => (
            <div class="check" key={p}>
              <input
                id={`quiet-${i}-${p}`}
                type="checkbox"
                checked={w.profiles.includes(p)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  update(i, { profiles: on ? [...w.profiles.filter((x) => x !== p), p] : w.profiles.filter((x) => x !== p) });
                }}
              />
              <label for={`quiet-${i}-${p}`}>{profileName(p)}</label>
            </div>
          ))}
          <button type="button" onClick={() => setWindows((ws) => ws.filter((_, j) => j !== i))}>
            {t('quietRemove')}
          </button>
        </fieldset>
      ))}
      <ErrorText error={error} />
      <div class="buttons">
        <button type="button" onClick={() => setWindows((ws) => [...ws, emptyWindow()])}>
          {t('quietAdd')}
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {t('quietSave')}
        </button>
        <button type="button" disabled={busy} onClick={() => void run(() => api.resetQuietHours(props.sid))}>
          {t('quietReset')}
        </button>
      </div>
    </form>
  );
}
