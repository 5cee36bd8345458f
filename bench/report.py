#!/usr/bin/env python3
"""Turns bench/results/results.jsonl into the tables of BENCHMARKS.md.

usage: report.py RESULTS.jsonl META.txt [--before BEFORE.jsonl[=TITLE]]... [--update BENCHMARKS.md]

Each cell is the median of the runs with their spread (min-max). Ratios are the
plain quotient of the medians, Causerie / peer: above 1 is better for rates, below
1 is better for latency, memory and CPU. Without --update the tables are printed.

Columns: `causerie` is Causerie as a school runs it (its accounts are directory users of
a generated school, under the default rules); `causerie_plain` the same binary with plain
accounts, which the rules do not concern; `causerie_open` (when run) the school with the
rules off. directory/plain, beside each table and in "What the school's rules cost",
is causerie / causerie_plain: the rules' cost.
"""

import json
import statistics
import sys

SERVERS = ["causerie", "causerie_plain", "causerie_open", "prosody", "ejabberd"]
CAUSERIE_COLUMNS = ["causerie", "causerie_plain", "causerie_open"]

# case -> (title, [(metric key, label, better)])
LOGIN = [
    ("logins_per_s", "logins/s", "higher"),
    ("p50_ms", "login p50 (ms)", "lower"),
    ("p99_ms", "login p99 (ms)", "lower"),
    ("server_cpu_us_per_login", "server CPU per login (µs)", "lower"),
    ("errors", "errors", "lower"),
]
IDLE = [
    ("server_kib_per_conn", "server RSS per connection (KiB)", "lower"),
    ("server_kib_per_extra_conn", "server RSS per extra connection, second half (KiB)", "lower"),
    ("kernel_slab_kib_per_conn_both_ends", "kernel slab per connection, both ends (KiB)", "lower"),
    ("server_idle_cpu_pct", "server CPU while idle (% of a core)", "lower"),
    ("held", "sessions held", "higher"),
    ("errors", "errors", "lower"),
]
CHAT = [
    ("messages_per_s", "messages/s delivered", "higher"),
    ("p50_ms", "latency p50 (ms)", "lower"),
    ("p99_ms", "latency p99 (ms)", "lower"),
    ("p999_ms", "latency p99.9 (ms)", "lower"),
    ("server_cpu_us_per_msg", "server CPU per message (µs)", "lower"),
    ("lost", "lost", "lower"),
    ("errors", "errors", "lower"),
]
RESUME = [
    ("resumes_per_s", "resumptions/s", "higher"),
    ("p50_ms", "resumption p50 (ms)", "lower"),
    ("p99_ms", "resumption p99 (ms)", "lower"),
    ("server_cpu_us_per_resume", "server CPU per resumption (µs)", "lower"),
    ("errors", "errors", "lower"),
]
STORM = [
    ("ok", "online", "higher"),
    ("all_online_s", "time until all online (s)", "lower"),
    ("p99_ms", "login p99 (ms)", "lower"),
    ("errors", "errors", "lower"),
]
MUC = [
    ("deliveries_per_s", "deliveries/s", "higher"),
    ("p50_ms", "latency p50 (ms)", "lower"),
    ("p99_ms", "latency p99 (ms)", "lower"),
    ("p999_ms", "latency p99.9 (ms)", "lower"),
    ("server_cpu_us_per_delivery", "server CPU per delivery (µs)", "lower"),
    ("lost", "lost", "lower"),
    ("errors", "errors", "lower"),
]
CASES = {
    "login_plain": ("Logins, PLAIN, no TLS", LOGIN),
    "login_scram": ("Logins, SCRAM-SHA-1, no TLS", LOGIN),
    "idle": ("Idle sessions with rosters of 30 (29 classmates for directory users), SCRAM-SHA-1, no TLS", IDLE),
    "chat": ("1:1 messages, closed loop, no TLS", CHAT),
    "chat_rate": ("1:1 messages at a fixed offered rate, no TLS", CHAT),
    "storm": ("Login storm, SCRAM-SHA-1, no TLS", STORM),
    "muc": ("Rooms of 30, closed loop (2 posts in flight per occupant), no TLS", MUC),
    "muc_rate": ("Rooms of 30 at a fixed offered rate, no TLS", MUC),
    "login_tls": ("Logins, STARTTLS + SCRAM-SHA-256", LOGIN),
    "login_tls_sm": ("Logins, STARTTLS + SCRAM-SHA-256, stream management (XEP-0198) enabled", LOGIN),
    "resume_tls": ("Resumptions (XEP-0198) after a lost connection: STARTTLS from a TLS ticket, SCRAM-SHA-256, <resume/>", RESUME),
    "idle_tls": ("Idle sessions, STARTTLS + SCRAM-SHA-256", IDLE),
    "chat_tls": ("1:1 messages, closed loop, STARTTLS", CHAT),
    "chat_rate_tls": ("1:1 messages at a fixed offered rate, STARTTLS", CHAT),
    "storm_tls": ("Login storm, STARTTLS + SCRAM-SHA-256", STORM),
    "idle_max_tls": ("Most idle sessions one process may hold here, STARTTLS", IDLE),
}


def load(path):
    runs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            runs.setdefault((rec["case"], rec["server"]), []).append(rec)
    return runs


def fmt(x):
    if x is None:
        return "–"
    if float(x).is_integer():
        return f"{int(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return med, fmt(med)
    return med, f"{fmt(med)} ({fmt(min(vals))}–{fmt(max(vals))})"


def describe(rec):
    r = rec["result"]
    if r.get("failed"):
        return "failed"
    return ""


def table(runs, case, servers, with_ratios):
    title, metrics = CASES[case]
    present = [s for s in servers if (case, s) in runs]
    if not present:
        return ""
    sample = runs[(case, present[0])][0]["result"]
    params = ", ".join(
        f"{k} {sample[k]}"
        for k in ("n", "concurrency", "pairs", "rooms", "window", "offered_rate", "offered_deliveries_per_s", "duration_s", "within_s")
        if k in sample and sample[k] is not None
    )
    head = ["metric"] + [f"{s} ({len(runs[(case, s)])} run{'s' if len(runs[(case, s)]) > 1 else ''})" for s in present]
    ratio_cols = []
    if "causerie" in present and "causerie_plain" in present:
        ratio_cols.append("causerie_plain")
    if with_ratios and "causerie" in present:
        ratio_cols += [p for p in present if p in ("prosody", "ejabberd")]
    head += ["directory/plain" if p == "causerie_plain" else f"Causerie/{p.capitalize()}" for p in ratio_cols]
    out = [f"#### {title}" + (f" ({params})" if params else ""), ""]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for key, label, better in metrics:
        row = [f"{label} ({better} is better)"]
        meds = {}
        for s in present:
            recs = runs[(case, s)]
            vals = [None if r["result"].get("failed") else r["result"].get(key) for r in recs]
            med, text = cell(vals)
            failed = sum(1 for r in recs if r["result"].get("failed"))
            if failed:
                text += f" ({failed} failed)"
            meds[s] = med
            row.append(text)
        for p in ratio_cols:
            c, v = meds.get("causerie"), meds.get(p)
            if c is None or v is None or v == 0 or key in ("errors", "lost", "held", "ok"):
                row.append("–")
            else:
                row.append(f"{c / v:.2f}×")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    return "\n".join(out)


def render(results_path, meta_path, befores=()):
    runs = load(results_path)
    with open(meta_path, encoding="utf-8") as f:
        meta = f.read().rstrip()
    parts = [
        "### Run conditions (bench/results/meta.txt)",
        "",
        "```",
        meta,
        "```",
        "",
        "Loads (1, 5, 15 min) measured just before each run are in bench/results/results.jsonl (`load_before`).",
        "",
        "### Side by side (no TLS, loopback, same mechanism for all three)",
        "",
        (
            "`causerie`: Causerie's accounts are directory users of a generated school (classes of 30, "
            "default rules), as a school runs it; `causerie_plain`: plain accounts, which the rules do "
            "not concern; directory/plain is the rules' cost. Prosody and ejabberd: plain accounts "
            "(no directory), rosters of 30."
            if plain_column(runs) == "causerie_plain"
            else "These results predate the school provisioning: every Causerie column ran plain "
            "accounts (`causerie` in school mode, `causerie_open` with the rules off), which the "
            "rules do not concern."
        ),
        "",
    ]
    parts.append(rules_cost(runs))
    for case in ("login_plain", "login_scram", "idle", "chat", "chat_rate", "storm", "muc", "muc_rate"):
        parts.append(table(runs, case, SERVERS, True))
    parts += ["### Causerie with TLS (STARTTLS, SCRAM-SHA-256)", ""]
    for case in ("login_tls", "login_tls_sm", "resume_tls", "idle_tls", "chat_tls", "chat_rate_tls",
                 "storm_tls", "idle_max_tls"):
        parts.append(table(runs, case, CAUSERIE_COLUMNS, False))
    parts.append(targets(runs))
    for before_path, title in befores:
        parts.append(before_after(before_path, runs, title))
    return "\n".join(p for p in parts if p is not None)


BEFORE_AFTER = [
    ("login_plain", "logins_per_s", "logins/s, PLAIN"),
    ("login_scram", "logins_per_s", "logins/s, SCRAM-SHA-1"),
    ("login_scram", "server_cpu_us_per_login", "server CPU per login (µs), SCRAM-SHA-1"),
    ("login_tls", "logins_per_s", "logins/s, STARTTLS + SCRAM-SHA-256"),
    ("login_tls", "server_cpu_us_per_login", "server CPU per login (µs), STARTTLS + SCRAM-SHA-256"),
    ("login_tls_sm", "server_cpu_us_per_login", "server CPU per login (µs), STARTTLS + SCRAM-SHA-256 + XEP-0198"),
    ("resume_tls", "server_cpu_us_per_resume", "server CPU per XEP-0198 resumption (µs), TLS ticket"),
    ("idle", "server_kib_per_conn", "server RSS per idle connection (KiB)"),
    ("idle", "server_kib_per_extra_conn", "server RSS per extra idle connection (KiB)"),
    ("idle_tls", "server_kib_per_conn", "server RSS per idle connection, TLS (KiB)"),
    ("idle_tls", "server_kib_per_extra_conn", "server RSS per extra idle connection, TLS (KiB)"),
    ("chat", "messages_per_s", "1:1 messages/s (closed loop)"),
    ("chat", "server_cpu_us_per_msg", "server CPU per message (µs)"),
    ("chat_rate", "p99_ms", "p99 (ms) at the fixed rate"),
    ("storm", "all_online_s", "storm: time until all online (s)"),
    ("storm", "p99_ms", "storm: login p99 (ms)"),
    ("muc", "deliveries_per_s", "room deliveries/s (closed loop)"),
    ("muc", "server_cpu_us_per_delivery", "server CPU per room delivery (µs)"),
    ("muc_rate", "p99_ms", "rooms: p99 (ms) at the fixed rate"),
]


def plain_column(runs):
    """The plain accounts' column of a results file: `causerie_plain`, or `causerie` in the
    files written before the school provisioning (every Causerie account was plain then)."""
    if any(server == "causerie_plain" for _, server in runs):
        return "causerie_plain"
    return "causerie"


def before_after(before_path, runs, title):
    before = load(before_path)
    plain_before, plain_now = plain_column(before), plain_column(runs)
    school = plain_now != "causerie"
    head = "| metric | before | after | after/before |"
    if school:
        head += " directory users now | directory users now/before |"
    out = [
        f"### Before and after: {title} (Causerie, plain accounts, school mode)",
        "",
        f"Before: {before_path} (medians of its `{plain_before}` column); after: the medians "
        f"of `{plain_now}` above, plain accounts both."
        + (
            " The last two columns set the directory users of this run (`causerie`) against "
            "the plain accounts before."
            if school
            else ""
        ),
        "",
        head,
        "|---|---|---|---|" + ("---|---|" if school else ""),
    ]

    def figures(rs, case, server, key):
        return [r["result"].get(key) for r in rs.get((case, server), []) if not r["result"].get("failed")]

    for case, key, label in BEFORE_AFTER:
        bm, bt = cell(figures(before, case, plain_before, key))
        am, at = cell(figures(runs, case, plain_now, key))
        ratio = f"{am / bm:.2f}×" if bm and am is not None else "–"
        row = f"| {label} | {bt} | {at} | {ratio} |"
        if school:
            dm, dt = cell(figures(runs, case, "causerie", key))
            row += f" {dt} | {f'{dm / bm:.2f}×' if bm and dm is not None else '–'} |"
        out.append(row)
    out.append("")
    return "\n".join(out)


RULES_COST = [
    ("login_plain", "logins_per_s", "logins/s, PLAIN", "higher"),
    ("login_scram", "logins_per_s", "logins/s, SCRAM-SHA-1", "higher"),
    ("login_scram", "server_cpu_us_per_login", "server CPU per login (µs), SCRAM-SHA-1", "lower"),
    ("idle", "server_kib_per_conn", "server RSS per idle connection (KiB)", "lower"),
    ("idle", "server_kib_per_extra_conn", "server RSS per extra idle connection (KiB)", "lower"),
    ("chat", "messages_per_s", "1:1 messages/s (closed loop)", "higher"),
    ("chat", "server_cpu_us_per_msg", "server CPU per 1:1 message (µs)", "lower"),
    ("chat_rate", "p99_ms", "1:1 p99 (ms) at the fixed rate", "lower"),
    ("storm", "all_online_s", "storm: time until all online (s)", "lower"),
    ("muc", "deliveries_per_s", "room deliveries/s (closed loop)", "higher"),
    ("muc", "server_cpu_us_per_delivery", "server CPU per room delivery (µs)", "lower"),
    ("muc_rate", "p99_ms", "rooms: p99 (ms) at the fixed rate", "lower"),
    ("login_tls", "logins_per_s", "logins/s, STARTTLS + SCRAM-SHA-256", "higher"),
    ("idle_tls", "server_kib_per_extra_conn", "server RSS per extra idle connection, TLS (KiB)", "lower"),
    ("chat_tls", "messages_per_s", "1:1 messages/s, STARTTLS", "higher"),
]

# Issue 12: with the one gate, the directory users' 1:1 and rooms throughput stays within
# 5% of the plain accounts'.
GATE_BOUND = {("chat", "messages_per_s"), ("muc", "deliveries_per_s")}


def rules_cost(runs):
    """causerie (directory users) against causerie_plain (plain accounts), per scenario."""
    if not any(s == "causerie_plain" for _, s in runs) or not any(s == "causerie" for _, s in runs):
        return None
    out = [
        "#### What the school's rules cost: directory users (`causerie`) against plain accounts (`causerie_plain`)",
        "",
        "Medians of the tables below, same binary, same run. Rosters: 29 classmates against 30 "
        "contacts. The last column is the change the rules make, for better or worse; issue 12 "
        "bounds the directory users' 1:1 and rooms throughput to within 5 % of the plain accounts'.",
        "",
        "| metric | directory users | plain accounts | directory/plain | change |",
        "|---|---|---|---|---|",
    ]
    for case, key, label, better in RULES_COST:
        d, p = med(runs, case, "causerie", key), med(runs, case, "causerie_plain", key)
        if d is None and p is None:
            continue
        ratio = d / p if d is not None and p else None
        change = "–"
        if ratio is not None:
            worse = ratio < 1 if better == "higher" else ratio > 1
            change = f"{(ratio - 1) * 100:+.1f} % ({'worse' if worse and ratio != 1 else 'better or equal'})"
            if (case, key) in GATE_BOUND:
                change += ", within 5 %" if ratio >= 0.95 else ", **beyond 5 %**"
        out.append(
            f"| {label} ({better} is better) | {fmt(d)} | {fmt(p)} | "
            f"{f'{ratio:.2f}×' if ratio is not None else '–'} | {change} |"
        )
    out.append("")
    return "\n".join(out)


def med(runs, case, server, key):
    vals = [
        r["result"].get(key)
        for r in runs.get((case, server), [])
        if not r["result"].get("failed") and r["result"].get(key) is not None
    ]
    return statistics.median(vals) if vals else None


def targets(runs):
    """The targets of issue 7 against the medians (Causerie's directory users, as a school runs it)."""

    def m(case, key, server="causerie"):
        return med(runs, case, server, key)

    def best_peer(case, key):
        vals = [v for v in (m(case, key, "prosody"), m(case, key, "ejabberd")) if v is not None]
        return max(vals) if vals else None

    rows = []

    def row(target, measured, ok, gap):
        status = "–" if ok is None else ("**met**" if ok else "not met")
        rows.append(f"| {target} | {measured} | {status} | {gap} |")

    for case, mech in (("login_plain", "PLAIN"), ("login_scram", "SCRAM-SHA-1")):
        c, b = m(case, "logins_per_s"), best_peer(case, "logins_per_s")
        ratio = c / b if c and b else None
        row(
            f"logins/s ≥ 10× the better peer ({mech}, no TLS)",
            f"{fmt(c)}/s against {fmt(b)}/s: {ratio:.1f}×" if ratio else "–",
            ratio >= 10 if ratio else None,
            (
                "PLAIN makes the server derive the password (PBKDF2-SHA-256, 4,096 iterations): about "
                "half of its CPU per login; met by a small margin"
            )
            if mech == "PLAIN"
            else (
                f"10× is {fmt(10 * b)}/s: server and generator ({fmt(m(case, 'server_cpu_us_per_login'))} "
                f"+ {fmt(m(case, 'gen_cpu_us_per_login'))} µs per login) share the 2 cores, so it needs both "
                f"under {fmt(2e6 / (10 * b))} µs per login together. F5 done (three queries per login "
                "left: credentials, roster, waiting requests and messages), each two thread hand-offs in "
                "sqlx-sqlite, which with the kernel's scheduling are a third of a login's CPU; reads on "
                "the runtime's threads (rusqlite, no hand-off) and a second machine for the generator"
            )
            if b
            else "",
        )
    c = m("login_tls", "logins_per_s")
    row(
        "≥ 3,000 logins/s with STARTTLS + SCRAM-SHA-256",
        f"{fmt(c)}/s ({fmt(m('login_tls', 'server_cpu_us_per_login'))} µs of server CPU per login; "
        f"the generator {fmt(m('login_tls', 'gen_cpu_us_per_login'))} µs)" if c else "–",
        c >= 3000 if c else None,
        "not on this machine: at 3,000/s the generator alone (its µs per login above) takes most of "
        "a core, and server + generator must fit in 667 µs per login on 2 cores; the server's share "
        "is the kernel's scheduling and the STARTTLS round trips more than the crypto (8 % of its "
        "samples): a second machine for the generator, then the hand-offs of F5",
    )
    for case, label in (("idle", "no TLS"), ("idle_tls", "STARTTLS")):
        c = m(case, "server_kib_per_conn")
        x = m(case, "server_kib_per_extra_conn")
        row(
            f"≤ 12 KiB per idle authenticated connection ({label})",
            f"{fmt(x)} KiB per extra connection; {fmt(c)} KiB on average over 5,000, with what the first "
            f"ones fill once (page cache, pools) (+ {fmt(m(case, 'kernel_slab_kib_per_conn_both_ends'))} KiB kernel slab, both ends)"
            if c
            else "–",
            (x <= 12) if x else None,
            "rustls keeps a 4 KiB read buffer and its keys per connection (its unbuffered API would let "
            "us drop the buffer while idle); the average falls towards the marginal figure as "
            "connections grow (fixed costs spread)" if label == "STARTTLS" else
            "the average falls towards the marginal figure as connections grow (fixed costs spread)",
        )
    held = m("idle_max_tls", "held")
    row(
        "100,000 connections held with the generator beside",
        f"{fmt(held)} held at {fmt(m('idle_max_tls', 'server_kib_per_conn'))} KiB each" if held else "not run",
        None,
        "not measurable here: the open-files hard limit of this machine is 20,000 per process "
        "(`ulimit -Hn`, not raisable in this sandbox: no CAP_SYS_RESOURCE); memory would allow it "
        "(100,000 × the KiB per connection beside ≈ 1–2 GiB of 23)",
    )
    c = m("chat", "messages_per_s")
    p, e = m("chat", "messages_per_s", "prosody"), m("chat", "messages_per_s", "ejabberd")
    if c and p and e:
        row(
            "1:1 messages/s ≥ 5× Prosody and ≥ 3× ejabberd",
            f"{fmt(c)}/s: {c / p:.1f}× Prosody ({fmt(p)}), {c / e:.1f}× ejabberd ({fmt(e)})",
            c >= 5 * p and c >= 3 * e,
            "F4 done (mutual contacts of chatting users in memory)",
        )
    for case, label in (("chat_rate", "no TLS"), ("chat_rate_tls", "STARTTLS")):
        c = m(case, "p99_ms")
        row(
            f"1:1 p99 ≤ 5 ms at 10,000 messages/s ({label})",
            f"p99 {fmt(c)} ms, p50 {fmt(m(case, 'p50_ms'))} ms" if c is not None else "–",
            c <= 5 if c is not None else None,
            "sensitive to the other engineers' load on the 2 cores (see the spread)",
        )
    c = m("muc", "deliveries_per_s")
    row(
        "rooms of 30: ≥ 300,000 deliveries/s",
        f"{fmt(c)}/s at {fmt(m('muc', 'server_cpu_us_per_delivery'))} µs of server CPU per delivery" if c else "–",
        c >= 300000 if c else None,
        "R1–R2 done: a post serialised once for the room, archived in batches off the room lock",
    )
    c = m("muc_rate", "p99_ms")
    row(
        "rooms of 30: p99 ≤ 5 ms at 9,000 deliveries/s",
        f"p99 {fmt(c)} ms" if c is not None else "–",
        c <= 5 if c is not None else None,
        "",
    )
    for case, label in (("storm", "no TLS, SCRAM-SHA-1"), ("storm_tls", "STARTTLS + SCRAM-SHA-256")):
        t, err = m(case, "all_online_s"), m(case, "errors")
        row(
            f"storm: 10,000 logins in 10 s, no error ({label})",
            f"all online {fmt(t)} s after the first arrival, {fmt(err)} errors, login p99 {fmt(m(case, 'p99_ms'))} ms"
            if t
            else "–",
            (t <= 10.5 and err == 0) if t else None,
            "the arrivals span 10 s; login CPU (F3–F5) sets how far the last ones lag",
        )
    out = [
        "### Targets of issue 7 (medians of the tables above; Causerie's directory users, the `causerie` column)",
        "",
        "| target | measured | status | what it would take |",
        "|---|---|---|---|",
    ]
    return "\n".join(out + rows) + "\n"


BEGIN = "<!-- results:begin (generated by bench/report.py) -->"
END = "<!-- results:end -->"


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    befores = []
    while "--before" in args:
        i = args.index("--before")
        path, _, title = args[i + 1].partition("=")
        befores.append((path, title or "an earlier run"))
        del args[i : i + 2]
    text = render(args[0], args[1], befores)
    if len(args) == 4 and args[2] == "--update":
        with open(args[3], encoding="utf-8") as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{args[3]} lacks the markers {BEGIN} … {END}")
        before = doc.split(BEGIN)[0]
        after = doc.split(END, 1)[1]
        with open(args[3], "w", encoding="utf-8") as f:
            f.write(before + BEGIN + "\n\n" + text + "\n" + END + after)
    else:
        print(text)


if __name__ == "__main__":
    main()
