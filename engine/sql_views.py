"""SQL views that make a workshop file readable in Datasette or any SQLite tool.

None of them shows a secret from `meta` or a device id from `events.actor`: people appear
as pseudonyms (`participant-3`, `juror-1`), numbered in the order they joined. The views
are documented column by column in docs/data.md, and tests/test_data_views.py holds both
to it. Nothing in the engine reads them: a read-only reader never needs them.
"""

from __future__ import annotations

import sqlite3

# Meta keys a view may show: an allow-list, so a secret added later stays hidden.
PUBLIC_META = ("kit_name", "kit")

# The log with who did what: each event with the role and pseudonym of its actor, found by
# window functions in two passes over the log (joins on the actor would scan it per row).
# A person's pseudonym is their role and their rank among those who joined with that role;
# `first_seq` is the seq of the actor's first event (their joining, for a person).
_LOGGED = """\
counted AS (
  SELECT seq, ts, step, kind, actor, data,
         CASE WHEN kind <> 'participant.joined' THEN NULL
              WHEN json_extract(data, '$.role') = 'juror' THEN 'juror'
              ELSE 'participant' END AS joined_as,
         sum(kind = 'participant.joined' AND json_extract(data, '$.role') = 'juror')
           OVER (ORDER BY seq) AS jurors,
         sum(kind = 'participant.joined' AND json_extract(data, '$.role') IS NOT 'juror')
           OVER (ORDER BY seq) AS participants
  FROM events
),
logged AS (
  SELECT seq, ts, step, kind, actor, data,
         first_value(joined_as) OVER (PARTITION BY actor ORDER BY seq) AS role,
         first_value(CASE joined_as WHEN 'juror' THEN 'juror-' || jurors
                                    WHEN 'participant' THEN 'participant-' || participants END)
           OVER (PARTITION BY actor ORDER BY seq) AS pseudonym,
         first_value(seq) OVER (PARTITION BY actor ORDER BY seq) AS first_seq
  FROM counted
)"""

_TIME = "strftime('%Y-%m-%dT%H:%M:%fZ', {ts}, 'unixepoch')"
_ACTIVITY = "substr({kind}, 1, instr({kind}, '.') - 1)"
_BY = """CASE WHEN {e}.actor = '' THEN 'system'
       WHEN {e}.actor IN ('facilitator', 'screen', 'jury') THEN {e}.actor
       ELSE coalesce({e}.pseudonym, 'unknown') END"""


def _time(ts: str) -> str:
    return _TIME.format(ts=ts)


def _activity(kind: str) -> str:
    return _ACTIVITY.format(kind=kind)


def _by(logged: str) -> str:
    """Who did it, for a row of `logged`: a pseudonym or a role, never the actor's id."""
    return _BY.format(e=logged)


WORKSHOP = f"""\
WITH public_meta AS (SELECT key, value FROM meta WHERE key IN {PUBLIC_META})
SELECT
  -- the kit's file name only: a server started with a path would show its folders
  (SELECT replace(value, rtrim(value, replace(value, '/', '')), '')
     FROM public_meta WHERE key = 'kit_name') AS kit_name,
  (SELECT value FROM public_meta WHERE key = 'kit') AS kit,
  (SELECT {_time("min(ts)")} FROM events) AS created,
  (SELECT {_time("max(ts)")} FROM events) AS last_event,
  (SELECT count(*) FROM events) AS events,
  (SELECT count(*) FROM events
     WHERE kind = 'participant.joined' AND json_extract(data, '$.role') IS NOT 'juror')
    AS participants,
  (SELECT count(*) FROM events
     WHERE kind = 'participant.joined' AND json_extract(data, '$.role') = 'juror') AS jurors"""

EVENT_LOG = f"""\
WITH {_LOGGED}
SELECT e.seq,
       {_time("e.ts")} AS time,
       e.step,
       {_activity("e.kind")} AS activity,
       e.kind,
       {_by("e")} AS by
FROM logged e
ORDER BY e.seq"""

_OPENED = """\
opened AS (
  SELECT json_extract(data, '$.step') AS step, min(seq) AS seq, min(ts) AS ts
  FROM events WHERE kind = 'workshop.step_opened' GROUP BY json_extract(data, '$.step')
)"""

STEPS = f"""\
WITH {_OPENED}
SELECT row_number() OVER (ORDER BY o.seq) AS position,
       o.step,
       (SELECT {_activity("kind")} FROM events WHERE step = o.step ORDER BY seq LIMIT 1)
         AS activity,
       {_time("o.ts")} AS opened,
       {_time("min(e.ts)")} AS first_event,
       {_time("max(e.ts)")} AS last_event,
       count(e.seq) AS events
FROM opened o LEFT JOIN events e ON e.step = o.step
GROUP BY o.step
ORDER BY o.seq"""

PARTICIPATION = f"""\
WITH {_LOGGED}, {_OPENED},
acted AS (
  SELECT step,
         count(DISTINCT CASE WHEN role = 'participant' THEN actor END) AS participants,
         count(DISTINCT CASE WHEN role = 'juror' THEN actor END) AS jurors,
         count(role) AS actions
  FROM logged WHERE step <> '' GROUP BY step
)
SELECT o.step,
       coalesce(a.participants, 0) AS participants,
       coalesce(a.jurors, 0) AS jurors,
       coalesce(a.actions, 0) AS actions
FROM opened o LEFT JOIN acted a ON a.step = o.step
ORDER BY o.seq"""

_VOTE_KINDS = (
    "dot_voting.voted",
    "dot_voting.unvoted",
    "axes.voted",
    "axes.unvoted",
    "jury.voted",
    "jury.unvoted",
)

VOTES = f"""\
WITH {_LOGGED},
resets AS (
  SELECT step, max(seq) AS seq FROM events WHERE kind = 'dot_voting.reset' GROUP BY step
)
SELECT e.seq,
       {_time("e.ts")} AS time,
       e.step,
       {_activity("e.kind")} AS activity,
       coalesce(json_extract(e.data, '$.item'), json_extract(e.data, '$.axis')) AS item,
       CASE WHEN e.kind LIKE '%.unvoted' THEN -1 ELSE 1 END AS dots,
       {_by("e")} AS by
FROM logged e LEFT JOIN resets r ON r.step = e.step
WHERE e.kind IN {_VOTE_KINDS}
  -- a reset gives every dot back: the dots placed before it no longer count
  AND (r.seq IS NULL OR e.seq > r.seq)
ORDER BY e.seq"""

JURY_SCORES = f"""\
WITH {_LOGGED},
scored AS (
  SELECT seq, ts, step, actor, pseudonym, first_seq,
         json_extract(data, '$.item') AS item,
         json_extract(data, '$.criterion') AS criterion,
         json_extract(data, '$.score') AS score,
         row_number() OVER (
           PARTITION BY step, actor, json_extract(data, '$.item'),
                        json_extract(data, '$.criterion')
           ORDER BY seq DESC) AS newest,
         count(*) OVER (
           PARTITION BY step, actor, json_extract(data, '$.item'),
                        json_extract(data, '$.criterion')) AS given
  FROM logged WHERE kind = 'jury.scored'
),
conflicts AS (
  SELECT step, actor, json_extract(data, '$.item') AS item,
         kind = 'jury.conflict_declared' AS declared,
         row_number() OVER (
           PARTITION BY step, actor, json_extract(data, '$.item') ORDER BY seq DESC) AS newest
  FROM events WHERE kind IN ('jury.conflict_declared', 'jury.conflict_withdrawn')
)
SELECT s.step,
       {_time("s.ts")} AS time,
       coalesce(s.pseudonym, 'unknown') AS juror,
       s.item,
       s.criterion,
       s.score,
       s.given - 1 AS changes,
       coalesce(c.declared, 0) AS conflict
FROM scored s
LEFT JOIN conflicts c
  ON c.newest = 1 AND c.step = s.step AND c.actor = s.actor AND c.item = s.item
WHERE s.newest = 1
ORDER BY s.step, s.first_seq, s.item, s.criterion"""

_POST_ID = "coalesce(json_extract(data, '$.problem'), json_extract(data, '$.idea'))"
_POST_KINDS = tuple(
    f"{prefix}.{what}"
    for prefix in ("diagnosis", "ideation")
    for what in ("edited", "withdrawn", "hidden", "unhidden", "merged", "unmerged")
)


def _latest(value: str, *whats: str) -> str:
    """VALUE in the newest change to post `p` of one of the kinds ending in WHATS (a NULL
    value does not count: an edit without `group` keeps the group)."""
    kinds = " OR ".join(f"c.kind LIKE '%.{what}'" for what in whats)
    return f"""(SELECT {value} FROM changes c
          WHERE c.step = p.step AND c.post = p.post AND ({kinds}) AND {value} IS NOT NULL
          ORDER BY c.seq DESC LIMIT 1)"""


_TITLE = _latest("json_extract(c.data, '$.title')", "edited")
_DESCRIPTION = _latest("json_extract(c.data, '$.description')", "edited")
_GROUP = _latest(
    "coalesce(json_extract(c.data, '$.theme'), json_extract(c.data, '$.frame'))", "edited"
)
_EXTRA = _latest("json_extract(c.data, '$.extra')", "edited")
_HIDDEN = _latest("c.kind LIKE '%.hidden'", "hidden", "unhidden")
_MERGED = _latest("c.kind LIKE '%.merged'", "merged", "unmerged")
_INTO = _latest("json_extract(c.data, '$.into')", "merged", "unmerged")

POSTS = f"""\
WITH posted AS (
  SELECT seq, ts, step, {_activity("kind")} AS activity, {_POST_ID} AS post, data
  FROM events WHERE kind IN ('diagnosis.posted', 'ideation.posted')
),
changes AS (
  SELECT seq, step, kind, {_POST_ID} AS post, data
  FROM events WHERE kind IN {_POST_KINDS}
)
SELECT p.step,
       p.activity,
       p.post AS id,
       {_time("p.ts")} AS posted,
       coalesce({_TITLE}, json_extract(p.data, '$.title')) AS title,
       coalesce({_DESCRIPTION}, json_extract(p.data, '$.description')) AS description,
       coalesce({_GROUP},
         json_extract(p.data, '$.theme'), json_extract(p.data, '$.frame')) AS group_id,
       coalesce({_EXTRA}, json_extract(p.data, '$.extra')) AS extra,
       json_extract(p.data, '$.table') AS table_number,
       coalesce(json_extract(p.data, '$.owner') LIKE 'table:%', 0) AS table_sheet,
       (SELECT count(*) FROM changes c
          WHERE c.step = p.step AND c.post = p.post AND c.kind LIKE '%.edited') AS edits,
       coalesce({_HIDDEN}, 0) AS hidden,
       EXISTS (SELECT 1 FROM changes c
          WHERE c.step = p.step AND c.post = p.post AND c.kind LIKE '%.withdrawn') AS withdrawn,
       CASE WHEN {_MERGED} THEN {_INTO} END AS merged_into
FROM posted p
ORDER BY p.seq"""

VIEWS: dict[str, str] = {
    "workshop": WORKSHOP,
    "event_log": EVENT_LOG,
    "steps": STEPS,
    "participation": PARTICIPATION,
    "votes": VOTES,
    "jury_scores": JURY_SCORES,
    "posts": POSTS,
}


def create_views(conn: sqlite3.Connection) -> None:
    """Create the views, or re-create those whose definition changed since the file was
    made (an older server wrote it). Runs in one transaction."""
    stored = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
    conn.execute("BEGIN")
    try:
        for name, select in VIEWS.items():
            if name in stored and not stored[name].endswith(select):
                conn.execute(f"DROP VIEW {name}")
            conn.execute(f"CREATE VIEW IF NOT EXISTS {name} AS\n{select}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
