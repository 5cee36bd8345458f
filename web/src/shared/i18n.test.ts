// The shared i18n helper: days as people say them, placeholders, languages.

import { describe, expect, it } from 'vitest';
import { dayKey, dayLabel, fill, pickLang } from './i18n';

describe('dayLabel', () => {
  const now = new Date(2026, 11, 5, 10, 30); // Saturday 5 December 2026, local time
  it('today and yesterday, also across midnight and months', () => {
    expect(dayLabel(new Date(2026, 11, 5, 0, 1), now, 'fr')).toBe("Aujourd'hui");
    expect(dayLabel(new Date(2026, 11, 4, 23, 59), now, 'fr')).toBe('Hier');
    expect(dayLabel(new Date(2026, 11, 4, 8), now, 'en')).toBe('Yesterday');
    expect(dayLabel(new Date(2026, 10, 30, 8), new Date(2026, 11, 1, 9), 'fr')).toBe('Hier');
  });
  it('« lundi 1er décembre », the year only when another', () => {
    expect(dayLabel(new Date(2026, 11, 1, 9), now, 'fr')).toBe('mardi 1er décembre');
    expect(dayLabel(new Date(2026, 10, 30, 9), now, 'fr')).toBe('lundi 30 novembre');
    expect(dayLabel(new Date(2025, 11, 1, 9), now, 'fr')).toBe('lundi 1er décembre 2025');
    expect(dayLabel(new Date(2026, 11, 1, 9), now, 'en')).toBe('Tuesday 1 December');
  });
  it('day keys follow the local day', () => {
    expect(dayKey(new Date(2026, 0, 9, 23, 59))).toBe('2026-01-09');
  });
});

describe('helpers', () => {
  it('placeholders, unknown ones kept', () => {
    expect(fill('{name} a {n} messages {x}', { name: 'Léa', n: 2 })).toBe('Léa a 2 messages {x}');
  });
  it('the first language we have, French otherwise', () => {
    expect(pickLang(['de-DE', 'en-US', 'fr'])).toBe('en');
    expect(pickLang(['de'])).toBe('fr');
  });
});
