// The seed's « contacts actifs »: one rule for « Commencer conversation » and
// « Inviter contact » (docs/web-client.md).

import { describe, expect, it } from 'vitest';
import type { Show, Subscription } from '../xmpp/stanzas';
import { Roster } from './roster';

function roster(subscription: Subscription, shows: Show[]): Roster {
  const r = new Roster();
  r.apply({ jid: 'hugo.bernard@localhost', groups: [], subscription, ask: false, refused: false });
  shows.forEach((show, i) => r.setPresence('hugo.bernard@localhost', `r${i}`, { show, priority: 1 }));
  return r;
}

describe('contacts actifs', () => {
  it('a contact who accepted and is « Disponible » (green light)', () => {
    expect(roster('both', ['available']).isActive('hugo.bernard@localhost/r0')).toBe(true);
    expect(roster('to', ['available']).isActive('hugo.bernard@localhost')).toBe(true);
  });

  it('not « Absent », « Ne pas déranger » nor « Hors ligne »', () => {
    expect(roster('both', ['away']).isActive('hugo.bernard@localhost')).toBe(false);
    expect(roster('both', ['dnd']).isActive('hugo.bernard@localhost')).toBe(false);
    expect(roster('both', []).isActive('hugo.bernard@localhost')).toBe(false);
  });

  it('the state his best resource shows', () => {
    // Two devices at the same priority: the green one counts.
    expect(roster('both', ['away', 'available']).isActive('hugo.bernard@localhost')).toBe(true);
  });

  it('not a contact who has not accepted, nor someone outside the roster', () => {
    expect(roster('from', ['available']).isActive('hugo.bernard@localhost')).toBe(false);
    expect(roster('none', ['available']).isActive('hugo.bernard@localhost')).toBe(false);
    expect(roster('both', ['available']).isActive('ines.petit@localhost')).toBe(false);
  });
});
