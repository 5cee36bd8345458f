// The one i18n helper of the chat client and the admin console: the
// language (the first of the browser's preferred languages we have, French
// otherwise), a translator over a French catalogue and its English twin
// (TypeScript refuses a key missing from one), names compared as people
// expect, times and dates in the language's format.
//
// `{name}`-style placeholders are filled by `t(key, { name })`.

export type Lang = 'fr' | 'en';
export type Params = Record<string, string | number>;

/** The first of `languages` we have, French otherwise. */
export function pickLang(languages: readonly string[]): Lang {
  for (const l of languages) {
    const base = l.toLowerCase().split('-')[0];
    if (base === 'fr' || base === 'en') return base;
  }
  return 'fr';
}

export const lang: Lang = pickLang(
  typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language],
);

/** The locale of dates and times. */
export const locale = lang === 'en' ? 'en-GB' : 'fr-FR';

/** Fills `{name}` placeholders. */
export function fill(text: string, params: Params = {}): string {
  return text.replace(/\{(\w+)\}/g, (m, p: string) => (p in params ? String(params[p]) : m));
}

/** `t(key, params)` over the catalogue of the current language. */
export function translator<K extends string>(catalogues: { fr: Record<K, string>; en: Record<K, string> }) {
  const catalogue = lang === 'en' ? catalogues.en : catalogues.fr;
  const t = (key: K, params: Params = {}): string => fill(catalogue[key], params);
  /** A key built from data (`profile_student`); the raw value when the catalogue lacks it. */
  const tk = (prefix: string, value: string, params: Params = {}): string => {
    const key = `${prefix}${value}`;
    return key in catalogue ? t(key as K, params) : value;
  };
  return { t, tk, catalogue };
}

const collator = new Intl.Collator(lang, { sensitivity: 'base' });
/** Compares names as a person of the language sorts them. */
export const byName = (a: string, b: string) => collator.compare(a, b);

const timeFormat = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export function formatTime(d: Date): string {
  return timeFormat.format(d);
}

const sameDay = (a: Date, b: Date) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/**
 * The day a conversation's messages were written, said as people say it:
 * « Aujourd'hui », « Hier », « lundi 1er décembre » (with the year when it
 * is not this year's); in English “Today”, “Yesterday”, “Monday 1 December”.
 */
export function dayLabel(d: Date, now: Date, language: Lang = lang): string {
  if (sameDay(d, now)) return language === 'en' ? 'Today' : "Aujourd'hui";
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(d, yesterday)) return language === 'en' ? 'Yesterday' : 'Hier';
  const loc = language === 'en' ? 'en-GB' : 'fr-FR';
  const weekday = new Intl.DateTimeFormat(loc, { weekday: 'long' }).format(d);
  const month = new Intl.DateTimeFormat(loc, { month: 'long' }).format(d);
  const day = language === 'fr' && d.getDate() === 1 ? '1er' : String(d.getDate());
  const year = d.getFullYear() === now.getFullYear() ? '' : ` ${d.getFullYear()}`;
  return `${weekday} ${day} ${month}${year}`;
}

/** A local day's key (`2026-12-01`), to tell when the day changes between two lines. */
export function dayKey(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
