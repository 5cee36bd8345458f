"""XEP-0352 client state indication: an inactive client gets its contacts' presence
updates later (only the latest of each), and messages at once."""

from __future__ import annotations

from slixmpp.stanza import Message, Presence

import raw
from clients import barrier, befriend

NS_CSI = "urn:xmpp:csi:0"


async def test_csi_is_a_stream_feature(server, make_user):
    A = make_user("csi")
    c = raw.login_server(server, A, "pc")
    try:
        assert c.features.find(f"{{{NS_CSI}}}csi") is not None, raw.tostring(c.features)
    finally:
        c.close()


async def test_an_inactive_client_gets_presence_later_and_messages_at_once(server, make_user, clients):
    A, B = make_user("lea"), make_user("hugo")
    a = await clients.login(A, "phone")
    b = await clients.login(B, "b")
    await befriend(a, b)
    await a.wait_presence(frm=b.full, ptype="available")

    a.xmpp.send_raw(f"<inactive xmlns='{NS_CSI}'/>")
    await barrier(a)
    m = a.mark()
    for show in ("away", "dnd", "xa"):
        b.send_presence(show=show, status=show)
    await barrier(b, a)
    await a.expect_none(lambda s: isinstance(s, Presence) and s["from"].bare == B.jid, 0.3,
                        "a presence update while inactive", start=m)

    # A message arrives at once, after the latest presence that waited (only that one).
    b.send_message(A.jid, "urgent")
    msg = await a.wait_message("urgent", frm=B.jid, start=m)
    got = a.matching(lambda s: isinstance(s, Presence) and s["from"].bare == B.jid, m)
    assert [p["show"] for p in got] == ["xa"], [str(p) for p in got]
    assert a.inbox.index(got[0]) < a.inbox.index(msg)

    # Still inactive: held again, then everything waiting comes when it becomes active.
    m = a.mark()
    b.send_presence(status="plus tard")
    await barrier(b, a)
    await a.expect_none(lambda s: isinstance(s, Presence) and s["from"].bare == B.jid, 0.2, start=m)
    a.xmpp.send_raw(f"<active xmlns='{NS_CSI}'/>")
    await a.wait_presence(frm=b.full, start=m, pred=lambda p: p["status"] == "plus tard")
    # Active: presence flows at once again.
    m = a.mark()
    b.send_presence(status="direct")
    await a.wait_presence(frm=b.full, start=m, pred=lambda p: p["status"] == "direct")
    assert not a.matching(lambda s: isinstance(s, Message) and s["type"] == "error", 0)
