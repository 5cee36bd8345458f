// The client's catalogue: « tu » for pupils, « vous » for adults, chosen by
// the directory's profile (or the portal's hint before the login).

import { describe, expect, it, vi } from 'vitest';
import { type Key, catalogues, frenchIn, registerHint, registerOf } from './i18n';

/** A word of `words` alone (not inside another word), accents counted as letters. */
const word = (words: string) => new RegExp(`(?<![\\p{L}'’])(?:${words})(?![\\p{L}])`, 'iu');
// « tu »: its pronouns, possessives, and the imperatives the catalogue uses.
const TU = new RegExp(
  `${word('tu|te|toi|ton|ta|tes|saisis|réessaie|contacte|ouvre|choisis|donne|recherche une|connecte').source}|(?<![\\p{L}])t['’]`,
  'iu',
);
// « vous »: its pronouns, possessives, and any verb in -ez.
const VOUS = word('vous|votre|vos|\\p{L}+ez');

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the register by profile', () => {
  it('« tu » for a pupil only; « vous » for adults and for whom the client does not know', () => {
    expect(registerOf('student')).toBe('tu');
    for (const p of ['relative', 'teacher', 'personnel', 'guest', 'Student', '', undefined]) {
      expect(registerOf(p)).toBe('vous');
    }
  });

  it("the portal's hint, when it is one", () => {
    expect(registerHint('?embedded=1&register=tu')).toBe('tu');
    expect(registerHint('?register=vous')).toBe('vous');
    expect(registerHint('?register=toi')).toBeUndefined();
    expect(registerHint('')).toBeUndefined();
  });

  it('the login page in each register', () => {
    expect(frenchIn('tu').loginIntro).toBe("Connecte-toi avec l'identifiant et le mot de passe de ton ENT.");
    expect(frenchIn('vous').loginIntro).toBe("Connectez-vous avec l'identifiant et le mot de passe de votre ENT.");
    expect(frenchIn('tu').loginMissing).toBe('Saisis ton identifiant et ton mot de passe.');
    expect(frenchIn('vous').loginMissing).toBe('Saisissez votre identifiant et votre mot de passe.');
  });

  it('no « tu » left in « vous », no « vous » in « tu », the same placeholders', () => {
    const tu = frenchIn('tu');
    const vous = frenchIn('vous');
    const keys = Object.keys(tu) as Key[];
    for (const key of keys) {
      expect([key, vous[key]]).not.toEqual([key, expect.stringMatching(TU)]);
      expect([key, tu[key]]).not.toEqual([key, expect.stringMatching(VOUS)]);
      expect([key, placeholders(vous[key])]).toEqual([key, placeholders(tu[key])]);
    }
    // The patterns do find what they look for.
    expect(TU.test(tu.noContacts) && TU.test(tu.loginIntro) && TU.test(tu.roomInvitedBy)).toBe(true);
    expect(VOUS.test(vous.noContacts) && VOUS.test(vous.inviteChooseFirst)).toBe(true);
    // What does not speak to the user is the same in both.
    expect(vous.startConversation).toBe(tu.startConversation);
    expect(catalogues.vous).toEqual(vous);
  });

  it('t() speaks in the register set', async () => {
    // A French browser (jsdom's is English): the module is loaded again for it.
    vi.resetModules();
    Object.defineProperty(window.navigator, 'languages', { value: ['fr-FR'], configurable: true });
    const { t, setRegister, currentRegister } = await import('./i18n');
    expect(currentRegister()).toBe('vous');
    expect(t('loginIntro')).toBe("Connectez-vous avec l'identifiant et le mot de passe de votre ENT.");
    setRegister('tu');
    expect(t('requestsNone')).toBe("Tu n'as aucune demande en attente.");
    expect(t('roomInvitedBy', { name: 'DURAND Anne' })).toBe('DURAND Anne t’invite dans une conversation.');
    setRegister('vous');
    expect(t('requestsNone')).toBe("Vous n'avez aucune demande en attente.");
    expect(t('roomInvitedBy', { name: 'MARTIN Léa' })).toBe('MARTIN Léa vous invite dans une conversation.');
  });
});
