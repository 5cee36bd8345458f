// Unit tests of what the client keeps for an account on the server (vitest, jsdom).

import { describe, expect, it } from 'vitest';
import { AccountData, forgetBrowser, prefsOf } from './storage';

describe('settings read back from private storage', () => {
  it('keeps what makes sense, drops the rest', () => {
    expect(prefsOf({ show: 'away', awayAfter: '15', notify: 'true', sound: 'false' })).toEqual({
      show: 'away',
      awayAfter: 15,
      notify: true,
      sound: false,
    });
    expect(prefsOf({ show: 'chat', awayAfter: '-1', notify: 'yes', other: 'x' })).toEqual({});
    expect(prefsOf({ awayAfter: '0' })).toEqual({ awayAfter: 0 });
    expect(prefsOf({ awayAfter: '2.5' })).toEqual({});
  });
});

describe('AccountData', () => {
  it('writes one after the other, and a failed read is an empty list', async () => {
    const sent: string[] = [];
    const data = new AccountData(async (iq) => {
      sent.push(iq.getAttribute('type') ?? '');
      if (iq.getAttribute('type') === 'get') throw new Error('no');
      return iq;
    });
    expect(await data.categories()).toEqual([]);
    await Promise.all([data.saveCategories(['A']), data.saveRooms([]), data.savePrefs({ show: 'dnd' })]);
    expect(sent).toEqual(['get', 'set', 'set', 'set']);
  });
});

describe('forgetBrowser', () => {
  it("removes every key of earlier versions' client, nothing else", () => {
    localStorage.setItem('causerie:history:lea@x:hugo@x', '[]');
    localStorage.setItem('causerie:prefs:lea@x', '{}');
    localStorage.setItem('other', '1');
    forgetBrowser();
    expect(Object.keys(localStorage)).toEqual(['other']);
    localStorage.clear();
  });
});
