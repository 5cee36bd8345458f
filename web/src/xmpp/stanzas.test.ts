// Unit tests of the stanza builders and parsers (vitest, jsdom).

import { Strophe } from 'strophe.js';
import { describe, expect, it } from 'vitest';
import * as X from './stanzas';

/** A stanza as the server sends it (namespaces as parsed by the browser). */
function parse(xml: string): Element {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const err = doc.getElementsByTagName('parsererror')[0];
  if (err) throw new Error(err.textContent ?? 'parse error');
  return doc.documentElement;
}

/** What Strophe puts on the wire for a built element. */
const wire = (e: Element) => Strophe.serialize(e);

describe('JIDs', () => {
  it('bare and resource', () => {
    expect(X.bareJid('Lea.Martin@LocalHost/web-1')).toBe('lea.martin@localhost');
    expect(X.resourceOf('room@conference.localhost/MARTIN Léa/x')).toBe('MARTIN Léa/x');
    expect(X.resourceOf('lea@localhost')).toBe('');
  });
});

describe('builders (as Strophe puts them on the wire)', () => {
  it('roster set with name and groups, escaped', () => {
    expect(wire(X.rosterSet({ jid: 'hugo@localhost', name: 'BERNARD <Hugo>', groups: ['Classe', 'A&B'] }))).toBe(
      '<iq type="set"><query xmlns="jabber:iq:roster"><item jid="hugo@localhost" name="BERNARD &lt;Hugo&gt;">' +
        '<group>Classe</group><group>A&amp;B</group></item></query></iq>',
    );
  });

  it('roster set without a name leaves the attribute out', () => {
    expect(wire(X.rosterSet({ jid: 'a@b', groups: [] }))).toBe(
      '<iq type="set"><query xmlns="jabber:iq:roster"><item jid="a@b"/></query></iq>',
    );
  });

  it('a report (XEP-0377 without blocking): reason, stanza-ids, the text trimmed and escaped', () => {
    expect(wire(X.reportIq('hugo@localhost', 'abuse', '  Il dit <des> choses  ', ['s1']))).toBe(
      '<iq type="set"><report jid="hugo@localhost" reason="urn:xmpp:reporting:abuse" xmlns="urn:xmpp:reporting:1">' +
        '<stanza-id by="hugo@localhost" id="s1" xmlns="urn:xmpp:sid:0"/><text>Il dit &lt;des&gt; choses</text></report></iq>',
    );
    expect(wire(X.reportIq('a@b', 'other', ' '))).toBe(
      '<iq type="set"><report jid="a@b" reason="urn:causerie:reporting:other" xmlns="urn:xmpp:reporting:1"/></iq>',
    );
  });

  it('roster remove', () => {
    expect(wire(X.rosterRemove('a@b'))).toBe(
      '<iq type="set"><query xmlns="jabber:iq:roster"><item jid="a@b" subscription="remove"/></query></iq>',
    );
  });

  it('presence: available has no show, others do; priority', () => {
    expect(wire(X.presence('available', { priority: 1 }))).toBe('<presence><priority>1</priority></presence>');
    expect(wire(X.presence('away', { to: 'r@conference.x/Me' }))).toBe(
      '<presence to="r@conference.x/Me"><show>away</show></presence>',
    );
    expect(wire(X.presenceOfType('subscribe', 'a@b'))).toBe('<presence to="a@b" type="subscribe"/>');
  });

  it('chat and groupchat messages, the text escaped; a chat message carries its origin-id', () => {
    expect(wire(X.chatMessage('a@b', 'id1', '<b>hi</b>'))).toBe(
      '<message id="id1" to="a@b" type="chat"><body>&lt;b&gt;hi&lt;/b&gt;</body>' +
        '<origin-id id="id1" xmlns="urn:xmpp:sid:0"/></message>',
    );
    expect(wire(X.groupchatMessage('r@c', 'id2', 'x'))).toBe(
      '<message id="id2" to="r@c" type="groupchat"><body>x</body></message>',
    );
  });

  it('search form', () => {
    expect(wire(X.searchIq('search.localhost', 'Durand'))).toBe(
      '<iq to="search.localhost" type="set"><query xmlns="jabber:iq:search"><x type="submit" xmlns="jabber:x:data">' +
        '<field type="hidden" var="FORM_TYPE"><value>jabber:iq:search</value></field>' +
        '<field var="search"><value>Durand</value></field></x></query></iq>',
    );
  });

  it('joining a room with its history, and our state; leaving', () => {
    expect(wire(X.joinRoom('r@c', 'MARTIN Léa', 'dnd', 50))).toBe(
      '<presence to="r@c/MARTIN Léa"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="50"/></x>' +
        '<show>dnd</show></presence>',
    );
    expect(wire(X.leaveRoom('r@c', 'N'))).toBe('<presence to="r@c/N" type="unavailable"/>');
  });

  it('room configuration, invitation, decline, kick', () => {
    expect(wire(X.roomConfig('r@c', 'Sortie'))).toBe(
      '<iq to="r@c" type="set"><query xmlns="http://jabber.org/protocol/muc#owner"><x type="submit" xmlns="jabber:x:data">' +
        '<field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>' +
        '<field var="muc#roomconfig_roomname"><value>Sortie</value></field></x></query></iq>',
    );
    expect(wire(X.mediatedInvite('r@c', 'i1', 'hugo@x'))).toBe(
      '<message id="i1" to="r@c"><x xmlns="http://jabber.org/protocol/muc#user"><invite to="hugo@x"/></x></message>',
    );
    expect(wire(X.declineInvite('r@c'))).toBe(
      '<message to="r@c"><x xmlns="http://jabber.org/protocol/muc#user"><decline/></x></message>',
    );
    expect(wire(X.kick('r@c', 'BERNARD Hugo'))).toBe(
      '<iq to="r@c" type="set"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="BERNARD Hugo" role="none"/></query></iq>',
    );
  });

  it('MAM page before an id, or the last page', () => {
    expect(wire(X.mamBefore('r@c', 'q1', 50, 'abc'))).toBe(
      '<iq to="r@c" type="set"><query queryid="q1" xmlns="urn:xmpp:mam:2">' +
        '<set xmlns="http://jabber.org/protocol/rsm"><max>50</max><before>abc</before></set></query></iq>',
    );
    expect(wire(X.mamBefore('r@c', 'q1', 50))).toContain('<before/>');
  });

  it("MAM on one's own archive, with one contact", () => {
    expect(wire(X.mamBefore(undefined, 'q2', 50, undefined, 'hugo@localhost'))).toBe(
      '<iq type="set"><query queryid="q2" xmlns="urn:xmpp:mam:2">' +
        '<x type="submit" xmlns="jabber:x:data"><field type="hidden" var="FORM_TYPE"><value>urn:xmpp:mam:2</value></field>' +
        '<field var="with"><value>hugo@localhost</value></field></x>' +
        '<set xmlns="http://jabber.org/protocol/rsm"><max>50</max><before/></set></query></iq>',
    );
    expect(wire(X.mamBefore(undefined, 'q3', 20, 's-9', 'a&b@x'))).toContain(
      '<value>a&amp;b@x</value></field></x><set xmlns="http://jabber.org/protocol/rsm"><max>20</max><before>s-9</before></set>',
    );
  });

  it('private storage: get, and set of the categories, rooms and settings (escaped)', () => {
    expect(wire(X.privateGet('categories', X.NS.CATEGORIES))).toBe(
      '<iq type="get"><query xmlns="jabber:iq:private"><categories xmlns="urn:causerie:categories:0"/></query></iq>',
    );
    expect(wire(X.privateSet(X.categoriesElement(['Classe', '<A&B>'])))).toBe(
      '<iq type="set"><query xmlns="jabber:iq:private"><categories xmlns="urn:causerie:categories:0">' +
        '<category name="Classe"/><category name="&lt;A&amp;B&gt;"/></categories></query></iq>',
    );
    expect(wire(X.privateSet(X.categoriesElement([])))).toContain('<categories xmlns="urn:causerie:categories:0"/>');
    expect(wire(X.roomsElement([{ jid: 'r@c', title: 'Sortie "A"' }, { jid: 's@c' }]))).toBe(
      '<rooms xmlns="urn:causerie:rooms:0"><room jid="r@c" title="Sortie &quot;A&quot;"/><room jid="s@c"/></rooms>',
    );
    expect(wire(X.prefsElement({ show: 'dnd', awayAfter: 0, notify: true, sound: undefined }))).toBe(
      '<prefs awayAfter="0" notify="true" show="dnd" xmlns="urn:causerie:prefs:0"/>',
    );
  });
});

describe('parsers', () => {
  it('a roster item with groups, ask and refusal', () => {
    const [item] = X.parseRoster(
      parse(
        `<iq xmlns='jabber:client' type='set'><query xmlns='jabber:iq:roster'>
          <item jid='Hugo@localhost' name='BERNARD Hugo' subscription='none' ask='subscribe'>
            <group>Classe</group><group>Classe</group><group></group>
            <refused xmlns='urn:causerie:roster:0'/>
          </item></query></iq>`,
      ),
    );
    expect(item).toEqual({
      jid: 'hugo@localhost',
      name: 'BERNARD Hugo',
      groups: ['Classe'],
      subscription: 'none',
      ask: true,
      refused: true,
    });
  });

  it('a removal and an odd subscription', () => {
    const items = X.parseRoster(
      parse(
        `<iq xmlns='jabber:client'><query xmlns='jabber:iq:roster'><item jid='a@b' subscription='remove'/>
          <item jid='c@d' subscription='weird'/><other jid='e@f'/></query></iq>`,
      ),
    );
    expect(items.map((i) => [i.jid, i.subscription])).toEqual([
      ['a@b', 'remove'],
      ['c@d', 'none'],
    ]);
  });

  it('body in the user language, then unmarked, then French', () => {
    const m = parse(
      `<message xmlns='jabber:client'><body xml:lang='fr'>Bonjour</body><body xml:lang='en'>Hello</body></message>`,
    );
    expect(X.bodyOf(m, 'en')).toBe('Hello');
    expect(X.bodyOf(m, 'fr')).toBe('Bonjour');
    expect(X.bodyOf(m, 'de')).toBe('Bonjour');
    expect(X.bodyOf(parse(`<message xmlns='jabber:client'/>`), 'fr')).toBeUndefined();
    // A body in another namespace is not the message's (other clients do not show it).
    const decoy = parse(
      `<message xmlns='jabber:client'><body xmlns='urn:example:decoy'>Bonjour !</body><body>insulte</body></message>`,
    );
    expect(X.bodyOf(decoy, 'fr')).toBe('insulte');
  });

  it('show, priority and delay', () => {
    expect(X.showOf(parse(`<presence xmlns='jabber:client'><show>xa</show></presence>`))).toBe('away');
    expect(X.showOf(parse(`<presence xmlns='jabber:client'><show>dnd</show></presence>`))).toBe('dnd');
    expect(X.showOf(parse(`<presence xmlns='jabber:client'/>`))).toBe('available');
    expect(X.priorityOf(parse(`<presence xmlns='jabber:client'><priority>5</priority></presence>`))).toBe(5);
    const d = X.stampOf(
      parse(`<message xmlns='jabber:client'><delay xmlns='urn:xmpp:delay' stamp='2026-12-01T08:30:00Z'/></message>`),
    );
    expect(d?.toISOString()).toBe('2026-12-01T08:30:00.000Z');
    expect(X.stampOf(parse(`<message xmlns='jabber:client'><delay xmlns='urn:xmpp:delay' stamp='nope'/></message>`))).toBeUndefined();
  });

  it('a stanza error: text in the language, condition', () => {
    const e = parse(
      `<message xmlns='jabber:client' type='error'><error type='cancel'>
        <policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
        <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='fr'>Refusé</text>
        <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>Refused</text></error></message>`,
    );
    expect(X.stanzaError(e, 'en')).toEqual({ text: 'Refused', condition: 'policy-violation' });
    expect(X.stanzaError(e, 'fr')).toEqual({ text: 'Refusé', condition: 'policy-violation' });
    expect(X.stanzaError(null, 'fr')).toEqual({ text: undefined, condition: 'undefined-condition' });
  });

  it('a SASL failure: bad credentials, or the server reason in the language', () => {
    const sasl = 'urn:ietf:params:xml:ns:xmpp-sasl';
    expect(X.saslFailure(parse(`<failure xmlns='${sasl}'><not-authorized/></failure>`), 'fr')).toEqual({
      badCredentials: true,
    });
    const locked = parse(`<failure xmlns='${sasl}'><account-disabled/><text>Compte bloqué — Account locked</text></failure>`);
    expect(X.saslFailure(locked, 'fr')).toEqual({ text: 'Compte bloqué' });
    expect(X.saslFailure(locked, 'en')).toEqual({ text: 'Account locked' });
  });

  it('search results, without oneself', () => {
    const r = parse(
      `<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:search'><x xmlns='jabber:x:data' type='result'>
        <reported><field var='jid'/></reported>
        <item><field var='jid'><value>anne.durand@localhost</value></field><field var='name'><value>DURAND Anne</value></field>
          <field var='profile'><value>teacher</value></field><field var='classes'><value>6e A</value></field></item>
        <item><field var='jid'><value>lea.martin@localhost</value></field></item>
      </x></query></iq>`,
    );
    expect(X.parseSearch(r, 'lea.martin@localhost')).toEqual([
      { jid: 'anne.durand@localhost', name: 'DURAND Anne', profile: 'teacher', classes: '6e A' },
    ]);
  });

  it('vCard name, unique room, disco', () => {
    expect(
      X.parseVcardName(parse(`<iq xmlns='jabber:client'><vCard xmlns='vcard-temp'><FN> MARTIN Léa </FN></vCard></iq>`)),
    ).toBe('MARTIN Léa');
    expect(X.parseVcardName(parse(`<iq xmlns='jabber:client'><vCard xmlns='vcard-temp'/></iq>`))).toBeUndefined();
    const card = parse(
      `<iq xmlns='jabber:client'><vCard xmlns='vcard-temp'><FN>DURAND Anne</FN><ROLE>Enseignant</ROLE>
        <profile xmlns='urn:causerie:directory:0'> teacher </profile></vCard></iq>`,
    );
    expect(X.parseVcardProfile(card)).toBe('teacher');
    // Only Causerie's element says it (not ROLE's label, nor a look-alike in another namespace).
    expect(
      X.parseVcardProfile(
        parse(`<iq xmlns='jabber:client'><vCard xmlns='vcard-temp'><ROLE>Élève</ROLE><profile>student</profile></vCard></iq>`),
      ),
    ).toBeUndefined();
    const u = parse(`<iq xmlns='jabber:client'><unique xmlns='http://jabber.org/protocol/muc#unique'>ABC</unique></iq>`);
    expect(X.parseUniqueRoom(u, 'conference.localhost')).toBe('abc@conference.localhost');
    const items = parse(
      `<iq xmlns='jabber:client'><query xmlns='http://jabber.org/protocol/disco#items'>
        <item jid='R1@conference.localhost' name='Sortie'/><item jid='r2@conference.localhost'/></query></iq>`,
    );
    expect(X.parseDiscoItems(items)).toEqual([
      { jid: 'r1@conference.localhost', name: 'Sortie' },
      { jid: 'r2@conference.localhost', name: '' },
    ]);
    const info = parse(
      `<iq xmlns='jabber:client'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' name='Sortie'/></query></iq>`,
    );
    expect(X.parseDiscoName(info)).toBe('Sortie');
  });

  it('an archived room message, and the end of the archive', () => {
    const r = parse(
      `<result xmlns='urn:xmpp:mam:2' id='s1' queryid='q'><forwarded xmlns='urn:xmpp:forward:0'>
        <delay xmlns='urn:xmpp:delay' stamp='2026-12-01T08:00:00Z'/>
        <message xmlns='jabber:client' type='groupchat' from='r@c/BERNARD Hugo'><body>Salut</body></message>
      </forwarded></result>`,
    );
    expect(X.parseArchived(r, 'fr')).toEqual({
      id: 's1',
      nick: 'BERNARD Hugo',
      body: 'Salut',
      time: new Date('2026-12-01T08:00:00Z'),
    });
    const chat = parse(
      `<result xmlns='urn:xmpp:mam:2' id='s2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>x</body></message></forwarded></result>`,
    );
    expect(X.parseArchived(chat, 'fr')).toBeUndefined();
    expect(X.mamComplete(parse(`<iq xmlns='jabber:client'><fin xmlns='urn:xmpp:mam:2' complete='true'/></iq>`))).toBe(true);
    expect(X.mamComplete(parse(`<iq xmlns='jabber:client'><fin xmlns='urn:xmpp:mam:2'/></iq>`))).toBe(false);
  });

  it('moderation: the retraction names the message, the tombstone has no text', () => {
    const live = parse(
      `<message xmlns='jabber:client' type='groupchat' from='r@c' id='x'>
        <retract xmlns='urn:xmpp:message-retract:1' id='s9'><moderated xmlns='urn:xmpp:message-moderate:1' by='r@c'/></retract>
        <body>Un message a été supprimé par la modération.</body></message>`,
    );
    expect(X.moderatedRetraction(live)).toBe('s9');
    // A retraction by the sender himself (XEP-0424 alone) is not a moderation.
    const own = parse(
      `<message xmlns='jabber:client'><retract xmlns='urn:xmpp:message-retract:1' id='s9'/></message>`,
    );
    expect(X.moderatedRetraction(own)).toBeUndefined();
    const tomb = (type: string) =>
      parse(
        `<result xmlns='urn:xmpp:mam:2' id='s9'><forwarded xmlns='urn:xmpp:forward:0'>
          <delay xmlns='urn:xmpp:delay' stamp='2026-12-01T08:00:00Z'/>
          <message xmlns='jabber:client' type='${type}' from='hugo@localhost/pc' to='lea@localhost'>
            <retracted xmlns='urn:xmpp:message-retract:1' stamp='2026-12-02T08:00:00Z'>
              <moderated xmlns='urn:xmpp:message-moderate:1' by='localhost'/></retracted>
          </message></forwarded></result>`,
      );
    expect(X.parseArchivedChat(tomb('chat'), 'lea@localhost', 'fr')).toMatchObject({
      id: 's9',
      out: false,
      peer: 'hugo@localhost',
      body: '',
      retracted: true,
    });
    expect(X.parseArchived(tomb('groupchat'), 'fr')).toMatchObject({ id: 's9', body: '', retracted: true });
  });

  it("a message of one's own archive: in or out, with whom, its ids; others left out", () => {
    const res = (inner: string, id = 's1') =>
      parse(
        `<result xmlns='urn:xmpp:mam:2' id='${id}' queryid='q'><forwarded xmlns='urn:xmpp:forward:0'>
          <delay xmlns='urn:xmpp:delay' stamp='2026-12-01T08:00:00Z'/>${inner}</forwarded></result>`,
      );
    const incoming = res(
      `<message xmlns='jabber:client' type='chat' id='m1' from='Hugo@localhost/pc' to='lea@localhost'>
        <body>Salut &lt;b&gt;</body><stanza-id xmlns='urn:xmpp:sid:0' by='lea@localhost' id='s1'/>
        <origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>`,
    );
    expect(X.parseArchivedChat(incoming, 'lea@localhost', 'fr')).toEqual({
      id: 's1',
      originId: 'o1',
      out: false,
      peer: 'hugo@localhost',
      body: 'Salut <b>',
      time: new Date('2026-12-01T08:00:00Z'),
    });
    const outgoing = res(
      `<message xmlns='jabber:client' type='chat' id='m2' from='lea@localhost/web-1' to='hugo@localhost'><body>Oui</body></message>`,
      's2',
    );
    expect(X.parseArchivedChat(outgoing, 'lea@localhost', 'fr')).toMatchObject({
      id: 's2',
      originId: 'm2',
      out: true,
      peer: 'hugo@localhost',
      body: 'Oui',
    });
    // No body, a groupchat message, no id: nothing to show.
    expect(
      X.parseArchivedChat(res(`<message xmlns='jabber:client' type='chat' from='h@x'/>`), 'lea@localhost', 'fr'),
    ).toBeUndefined();
    expect(
      X.parseArchivedChat(
        res(`<message xmlns='jabber:client' type='groupchat' from='r@c/N'><body>x</body></message>`),
        'lea@localhost',
        'fr',
      ),
    ).toBeUndefined();
    expect(
      X.parseArchivedChat(
        parse(`<result xmlns='urn:xmpp:mam:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat' from='h@x'><body>x</body></message></forwarded></result>`),
        'lea@localhost',
        'fr',
      ),
    ).toBeUndefined();
  });

  it('origin-id and stanza-id by our own address', () => {
    const m = parse(
      `<message xmlns='jabber:client' id='m1'><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>
        <stanza-id xmlns='urn:xmpp:sid:0' by='Lea@localhost' id='s1'/></message>`,
    );
    expect(X.originIdOf(m)).toBe('o1');
    expect(X.originIdOf(parse(`<message xmlns='jabber:client' id='m2'/>`))).toBe('m2');
    expect(X.originIdOf(parse(`<message xmlns='jabber:client'/>`))).toBeUndefined();
    expect(X.stanzaIdBy(m, 'lea@localhost')).toBe('s1');
    expect(X.stanzaIdBy(m, 'hugo@localhost')).toBeUndefined();
  });

  it('private storage: categories, rooms and settings read back, odd values left out', () => {
    const q = (inner: string) =>
      parse(`<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:private'>${inner}</query></iq>`);
    expect(
      X.parseCategories(
        q(`<categories xmlns='urn:causerie:categories:0'><category name=' Classe   A '/><category name=''/>
          <category name='Classe A'/><category/><category name='${'x'.repeat(101)}'/><category name='Sport'/>
          <other name='no'/></categories>`),
      ),
    ).toEqual(['Classe A', 'Sport']);
    expect(X.parseCategories(q(`<categories xmlns='urn:causerie:categories:0'/>`))).toEqual([]);
    const many = Array.from({ length: 80 }, (_, i) => `<category name='c${i}'/>`).join('');
    expect(X.parseCategories(q(`<categories xmlns='urn:causerie:categories:0'>${many}</categories>`))).toHaveLength(
      X.MAX_CATEGORIES,
    );
    // Another namespace is not ours.
    expect(X.parseCategories(q(`<categories xmlns='urn:other'><category name='A'/></categories>`))).toEqual([]);
    expect(
      X.parseRooms(q(`<rooms xmlns='urn:causerie:rooms:0'><room jid='R@conference.x' title='Sortie'/><room/></rooms>`)),
    ).toEqual([{ jid: 'r@conference.x', title: 'Sortie' }]);
    expect(X.parsePrefs(q(`<prefs xmlns='urn:causerie:prefs:0' show='dnd' notify='true'/>`))).toEqual({
      show: 'dnd',
      notify: 'true',
    });
    expect(X.parsePrefs(q(''))).toEqual({});
  });

  it('carbons and the room stanza-id', () => {
    const c = parse(
      `<message xmlns='jabber:client'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
        <message xmlns='jabber:client' to='hugo@x' type='chat'><body>hi</body></message></forwarded></sent></message>`,
    );
    const carbon = X.parseCarbon(c);
    expect(carbon?.direction).toBe('sent');
    expect(carbon?.message.getAttribute('to')).toBe('hugo@x');
    expect(X.parseCarbon(parse(`<message xmlns='jabber:client'/>`))).toBeUndefined();
    const m = parse(
      `<message xmlns='jabber:client'><stanza-id xmlns='urn:xmpp:sid:0' by='other@x' id='no'/>
        <stanza-id xmlns='urn:xmpp:sid:0' by='r@c' id='yes'/></message>`,
    );
    expect(X.roomStanzaId(m, 'r@c')).toBe('yes');
  });

  it('room status codes', () => {
    const x = parse(
      `<x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/><status code='201'/></x>`,
    );
    expect([...X.statusCodes(x)]).toEqual([110, 201]);
  });
});

describe('safety notices (quiet hours, kill switch)', () => {
  it('reads the server’s notices and nothing else', () => {
    const held = parse(
      "<message xmlns='jabber:client' type='headline' from='localhost'><body>x</body>" +
        "<quiet xmlns='urn:causerie:quiet:0' state='held' jid='Lea.Martin@localhost' until='2026-01-01T06:00:00.000Z' until-local='07:00'/></message>",
    );
    expect(X.parseSafetyNotice(held)).toEqual({ kind: 'quiet', state: 'held', jid: 'lea.martin@localhost', until: '07:00' });
    const on = parse("<message xmlns='jabber:client'><quiet xmlns='urn:causerie:quiet:0' state='on' until-local='07:00'/></message>");
    expect(X.parseSafetyNotice(on)).toEqual({ kind: 'quiet', state: 'on', jid: undefined, until: '07:00' });
    const bad = parse("<message xmlns='jabber:client'><quiet xmlns='urn:causerie:quiet:0' state='maybe'/></message>");
    expect(X.parseSafetyNotice(bad)).toBeUndefined();
    const shut = parse(
      "<message xmlns='jabber:client'><shutdown xmlns='urn:causerie:policy:0' mode='read_only'> Reprise lundi. </shutdown></message>",
    );
    expect(X.parseSafetyNotice(shut)).toEqual({ kind: 'shutdown', mode: 'read_only', text: 'Reprise lundi.' });
    expect(X.parseSafetyNotice(parse("<message xmlns='jabber:client'><body>hi</body></message>"))).toBeUndefined();
  });
});
