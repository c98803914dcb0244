"""Many shares quickly: the rows real lifecycles wrote, cloned in bulk.

A *tier* is every row that one piece of real work added, table by table: a setting as its
set-up wrote it (the setting, its people, their memberships and grants, its address book,
their audit entries), or a *case* (a child on the roll, their case and its team, and the
shares of the case played through the pages to their states, with every process, task,
version, decision, release, notification and audit entry that wrote). Nothing here knows
which tables those are: a tier is read from the tables' highest ids before and after the
work (``snapshot``), over every concrete model Django knows, so a column or a table added
to the product is cloned along without a change here.

A clone run copies a tier's rows once per line of the ``scale_copies`` table, with
``INSERT ... SELECT`` in PostgreSQL: each copy's ids follow the table's highest, every
foreign key into the tier is moved to the copy's row, a key into the outer tier (a case's
setting, its people) to the copy of that setting, and anything else (content types,
permissions) kept. Times move on by the copy's shift, so the history spreads over months.
Texts that name a record by its id (a notification's link and event, a version's items,
an audit entry's detail) are rewritten by the rules below, and marker words written into
the template (``MARKERS``) become each copy's own names, so every setting, person, child
and case reference is distinct. A unique column that no copy would change stops the run
with its name rather than clash. The keys of the first and last copies are looked up
afterwards (``dangling_keys``).

The audit log is hash-chained, one chain per setting, so its entries are not copied in
SQL: they are built in Python, merged in time order, placed at the end of their setting's
chain and hashed with ``permissions.audit_chain.content_hash``, a new chain's start
recorded in the installation chain as ``append`` records it, and streamed in with COPY;
after each run the installation chain records every chain's head, as the product does
every few minutes.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models, transaction
from django.db.models.base import ModelState

from permissions import audit_chain
from permissions.models import AuditAction, AuditEntry

Model = type[models.Model]

# Words written into the template's names, replaced in each copy (SQL and Python alike).
SETTING_MARK = "zqs000"  # the setting's number: its name, its people's usernames and emails
CASE_MARK = "zqc00000"  # the case's number in its setting: its reference
FIRST_NAME_MARK = "Zqfirst"  # the child's first name
SURNAME_MARK = "Zqlast"  # the child's (and their carer's) surname


def _words(text: str) -> list[str]:
    return text.split()


# Names for the copies' children, as a roll might hold them.
FIRST_NAMES = _words(
    "Maisie Leo Ava Noah Ella Oliver Amelia Jack Isla Harry Freya Charlie Lily George Grace "
    "Oscar Mia Arthur Evie Alfie Poppy Theo Rosie Jacob Sophie Muhammad Ivy Archie Florence "
    "Henry Willow Finley Daisy Teddy Sienna Leon Phoebe Reggie Ruby Alex"
)
SURNAMES = _words(
    "Thompson Okafor Patel Williams Hughes Smith Jones Taylor Brown Davies Evans Wilson "
    "Johnson Roberts Robinson Wright Walker White Edwards Green Hall Wood Harris Lewis Martin "
    "Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison "
    "Morgan Young Allen Mitchell Anderson Lee Bell Parker Kelly Khan Ahmed Begum Ali Nowak "
    "Kowalski Murphy Byrne Reid Campbell Stewart Murray"
)


def marker_value(name: str, setting: int, case: int) -> str:
    if name == SETTING_MARK:
        return f"s{setting:03d}"
    if name == CASE_MARK:
        return f"{case:05d}"
    if name == FIRST_NAME_MARK:
        return FIRST_NAMES[case % len(FIRST_NAMES)]
    return SURNAMES[(case // len(FIRST_NAMES) + setting) % len(SURNAMES)]


def _marker_sql(name: str) -> str:
    if name == SETTING_MARK:
        return "('s' || lpad(k.setting::text, 3, '0'))"
    if name == CASE_MARK:
        return "lpad(k.case_number::text, 5, '0')"
    if name == FIRST_NAME_MARK:
        names = ", ".join(_literal(n) for n in FIRST_NAMES)
        return f"(ARRAY[{names}])[1 + k.case_number % {len(FIRST_NAMES)}]"
    names = ", ".join(_literal(n) for n in SURNAMES)
    return (
        f"(ARRAY[{names}])[1 + (k.case_number / {len(FIRST_NAMES)} + k.setting) % {len(SURNAMES)}]"
    )


MARKERS = (SETTING_MARK, CASE_MARK, FIRST_NAME_MARK, SURNAME_MARK)

# Texts that name another record by its id, as the product writes them: (app_label.model,
# field) -> (pattern, the model it names). The pattern's group ``id`` is the id; where the
# model is None its group ``model`` names it ("share 12" in a page view's list of records).
TEXT_RULES: dict[tuple[str, str], list[tuple[str, str | None]]] = {
    ("workflows.notification", "link"): [
        (r"/shares/(?P<id>\d+)/", "cases.share"),
        (r"/advice/(?P<id>\d+)/", "cases.consultation"),
        (r"/cases/(?P<id>\d+)/", "cases.case"),
        (r"/notifications/(?P<id>\d+)/", "workflows.notification"),
    ],
    ("workflows.notification", "event"): [
        (r"^share_submitted:(?P<id>\d+)", "cases.share"),
        (r"^(?:decision|decided_for_lead):(?P<id>\d+)", "cases.decision"),
        (r"^advice_(?:asked|given):(?P<id>\d+)", "cases.consultation"),
        (r"^reconsideration_requested:(?P<id>\d+)", "cases.reconsiderationrequest"),
        (r"^escalation:(?P<id>\d+)", "workflows.escalation"),
        (r"^family_follow_up:(?P<id>\d+)", "cases.familyfollowup"),
        (r"^emergency_release:(?P<id>\d+)", "cases.release"),
        (r"^break_glass:(?P<id>\d+)", "permissions.breakglassgrant"),
    ],
    ("workflows.notification", "detail"): [(r"[Ss]hare #(?P<id>\d+)", "cases.share")],
    ("permissions.auditentry", "detail"): [
        (r"release #(?P<id>\d+)", "cases.release"),
        (r"decision #(?P<id>\d+)", "cases.decision"),
        (r"adviser #(?P<id>\d+)", "auth.user"),
        (r"[Ss]hare #(?P<id>\d+)", "cases.share"),
        # A page view lists what it showed: "case 4; share 12; decision 40".
        (r"\b(?P<model>[a-z]+) (?P<id>\d+)\b", None),
    ],
    ("permissions.auditentry", "basis"): [(r"grant #(?P<id>\d+)", "permissions.breakglassgrant")],
}
# JSON values that name records: (model, field) -> {key: model named by the key's value}.
JSON_RULES: dict[tuple[str, str], dict[str, str]] = {
    ("cases.shareversion", "content"): {"id": "cases.shareitem"},
    ("cases.release", "content"): {"item": "cases.shareitem"},
}
# Rows of these are a person's sign-in, not the work: never part of a tier.
_NOT_CLONED_APPS = {"sessions", "axes", "admin", "otp_totp", "otp_static", "django_otp"}
_NOT_CLONED_MODELS = {"permissions.signedinsession"}
# Copies per transaction are chosen so that one holds about this many rows.
ROWS_PER_TRANSACTION = 500_000


def _label(model: Model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _model(label: str) -> Model | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _own_pk(model: Model) -> bool:
    """Whether the table numbers its own rows (not a child table keyed by its parent's)."""
    return isinstance(model._meta.pk, models.AutoField)


def clonable_models() -> list[Model]:
    """Every concrete table with an integer key that a share's life or a setting may write."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.app_label in _NOT_CLONED_APPS:
            continue
        if _label(model) in _NOT_CLONED_MODELS:
            continue
        pk = meta.pk
        if isinstance(pk, models.AutoField) or (
            isinstance(pk, models.OneToOneField) and pk.remote_field.parent_link
        ):
            found.append(model)
    return found


def snapshot() -> dict[Model, int]:
    """The highest id of every clonable table, in one query."""
    tables = clonable_models()
    parts = [
        f"SELECT {n}, COALESCE(MAX({_q(m._meta.pk.column)}), 0) FROM {_q(m._meta.db_table)}"
        for n, m in enumerate(tables)
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return {tables[n]: top for n, top in cursor.fetchall()}


def snapshot_of(model: Model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(MAX({_q(model._meta.pk.column)}), 0) FROM {_q(model._meta.db_table)}"
        )
        return int(cursor.fetchone()[0])


@dataclass
class Tier:
    """The rows one piece of real work added: per table, the range of their ids and count."""

    name: str
    ranges: dict[Model, tuple[int, int]]
    counts: dict[Model, int]

    @classmethod
    def between(cls, name: str, before: dict[Model, int], after: dict[Model, int]) -> Tier:
        ranges = {m: (before.get(m, 0) + 1, top) for m, top in after.items() if top > before[m]}
        counts = {}
        with connection.cursor() as cursor:
            for model, (lo, hi) in ranges.items():
                pk = _q(model._meta.pk.column)
                cursor.execute(
                    f"SELECT COUNT(*) FROM {_q(model._meta.db_table)} WHERE {pk} BETWEEN %s AND %s",
                    [lo, hi],
                )
                counts[model] = cursor.fetchone()[0]
        return cls(name, ranges, counts)

    def span(self, model: Model) -> int:
        lo, hi = self.ranges[model]
        return hi - lo + 1

    @property
    def shares(self) -> int:
        return self.counts.get(apps.get_model("cases.share"), 0)

    def describe(self) -> str:
        rows = sorted(self.counts.items(), key=lambda item: (-item[1], _label(item[0])))
        return ", ".join(f"{m._meta.db_table} {n}" for m, n in rows)


@dataclass
class CloneRun:
    """Where one run put its copies: copy ``c`` of a row of ``model`` with id ``i`` is
    ``base[model] + c * span + (i - lo)``."""

    tier: Tier
    base: dict[Model, int]
    copies: int
    # What it wrote, and how long each part took.
    rows: int = 0
    rows_seconds: float = 0.0
    entries: int = 0
    entries_seconds: float = 0.0
    # Whether PostgreSQL checked every foreign key of the copies as they went in (it does not
    # when the copying may switch its triggers off), and the keys of the first and last copies
    # checked afterwards: how many, and how many pointed at no row.
    keys_checked_by_database: bool = True
    keys_sampled: int = 0
    keys_dangling: int = 0
    table_seconds: dict[str, float] = field(default_factory=dict)
    index_seconds: float = 0.0

    def moved(self, model: Model, pk: int, copy: int) -> int:
        model = keyed_by(model)
        lo, _ = self.tier.ranges[model]
        return self.base[model] + copy * self.tier.span(model) + (pk - lo)


@dataclass(frozen=True)
class Copy:
    """One line of ``scale_copies``: the copy's number, the copy of the outer tier it belongs
    to (a case's setting; None for a setting), the numbers of the setting and of the case
    in it that its names take, and how far its times move on."""

    c: int
    outer_c: int | None
    setting: int
    case_number: int
    shift: float


# --- Texts and JSON with ids and markers in them -------------------------------------------


@dataclass(frozen=True)
class IdHole:
    model: Model
    pk: int


@dataclass(frozen=True)
class MarkHole:
    name: str


Segment = str | IdHole | MarkHole


def keyed_by(model: Model) -> Model:
    """The table whose ids a model's rows carry: its own, or its parent's (a share's process
    is keyed by viewflow's process)."""
    while not _own_pk(model):
        model = _target(model._meta.pk)
    return model


def _target(field: Any) -> Model:
    """The concrete model a foreign key points at."""
    related = field.related_model
    assert related is not None and not isinstance(related, str)
    concrete = related._meta.concrete_model
    assert concrete is not None
    return concrete


def _field(model: Model, name: str) -> models.Field:
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found


class Remapper:
    """Where a template row's id goes in a copy: into the tier's copy, into the copy of the
    outer tier (a case's setting), or nowhere (a global row, a content type). Audit entries
    are numbered as they stream in, so nothing is moved to one."""

    def __init__(self, tier: Tier, base: dict[Model, int], outer: CloneRun | None) -> None:
        self.tier, self.base, self.outer = tier, base, outer
        # Each cloned model by its name, as texts and the audit log's object_type name it.
        outer_models = list(outer.tier.ranges) if outer is not None else []
        self.by_name = {m._meta.model_name: m for m in [*outer_models, *tier.ranges]}

    def _place(self, model: Model, pk: int | None) -> tuple[str, Model]:
        model = keyed_by(model)
        if pk is None:
            return "", model
        if model in self.base:
            lo, hi = self.tier.ranges[model]
            if lo <= pk <= hi:
                return "tier", model
        if self.outer is not None and model in self.outer.base:
            lo, hi = self.outer.tier.ranges[model]
            if lo <= pk <= hi:
                return "outer", model
        return "", model

    def moves(self, model: Model, pk: int | None) -> bool:
        return self._place(model, pk)[0] != ""

    def python(self, model: Model, pk: int | None, copy: Copy) -> int | None:
        owner, model = self._place(model, pk)
        if pk is None or not owner:
            return pk
        if owner == "tier":
            lo, _ = self.tier.ranges[model]
            return self.base[model] + copy.c * self.tier.span(model) + (pk - lo)
        if copy.outer_c is None:
            return pk
        assert self.outer is not None
        return self.outer.moved(model, pk, copy.outer_c)

    def mover(self, model: Model, pk: int) -> Callable[[Copy], int]:
        """``python`` for one template id, worked out once: a function of the copy."""
        owner, model = self._place(model, pk)
        if owner == "tier":
            lo, _ = self.tier.ranges[model]
            base, span = self.base[model] + pk - lo, self.tier.span(model)
            return lambda copy: base + copy.c * span
        if owner == "outer":
            assert self.outer is not None
            lo, _ = self.outer.tier.ranges[model]
            outer_base = self.outer.base[model] + pk - lo
            outer_span = self.outer.tier.span(model)
            return lambda copy: (
                pk if copy.outer_c is None else outer_base + copy.outer_c * outer_span
            )
        return lambda copy: pk

    def sql(self, model: Model, value: str) -> str:
        """SQL for the id ``value`` (a column or a literal) of a row of ``model``, moved."""
        model = keyed_by(model)
        parts = []
        if model in self.base:
            lo, hi = self.tier.ranges[model]
            moved = f"{self.base[model]} + k.c * {self.tier.span(model)} + ({value} - {lo})"
            parts.append(f"WHEN {value} BETWEEN {lo} AND {hi} THEN {moved}")
        if self.outer is not None and model in self.outer.base:
            lo, hi = self.outer.tier.ranges[model]
            base, span = self.outer.base[model], self.outer.tier.span(model)
            moved = f"{base} + k.outer_c * {span} + ({value} - {lo})"
            parts.append(
                f"WHEN k.outer_c IS NOT NULL AND {value} BETWEEN {lo} AND {hi} THEN {moved}"
            )
        if not parts:
            return value
        return f"(CASE {' '.join(parts)} ELSE {value} END)"

    def literal_sql(self, model: Model, pk: int) -> str:
        owner, model = self._place(model, pk)
        if owner == "tier":
            lo, _ = self.tier.ranges[model]
            return f"({self.base[model]} + k.c * {self.tier.span(model)} + {pk - lo})"
        if owner == "outer":
            assert self.outer is not None
            lo, _ = self.outer.tier.ranges[model]
            base, span = self.outer.base[model], self.outer.tier.span(model)
            moved = f"{base} + k.outer_c * {span} + {pk - lo}"
            return f"(CASE WHEN k.outer_c IS NULL THEN {pk} ELSE {moved} END)"
        return str(pk)

    def in_tier(self, model: Model) -> bool:
        """Whether copies of this model's rows get ids of their own (so a key to one varies
        from copy to copy)."""
        return keyed_by(model) in self.base


Rule = tuple[re.Pattern[str], Model | None]


def _rules_for(model: Model, name: str) -> list[Rule]:
    found: list[Rule] = []
    for pattern, label in TEXT_RULES.get((_label(model), name), []):
        target = _model(label) if label is not None else None
        if label is None or target is not None:
            found.append((re.compile(pattern), target))
    return found


def text_segments(text: str, rules: Sequence[Rule], remap: Remapper) -> list[Segment]:
    """The text cut where an id of a cloned record or a marker word stands."""
    holes: list[tuple[int, int, IdHole | MarkHole]] = []
    for pattern, target in rules:
        for match in pattern.finditer(text):
            named = target if target is not None else remap.by_name.get(match.group("model"))
            pk = int(match.group("id"))
            if named is not None and remap.moves(named, pk):
                holes.append((match.start("id"), match.end("id"), IdHole(named, pk)))
    for name in MARKERS:
        start = text.find(name)
        while start != -1:
            holes.append((start, start + len(name), MarkHole(name)))
            start = text.find(name, start + len(name))
    segments: list[Segment] = []
    at = 0
    for start, end, hole in sorted(holes, key=lambda h: h[0]):
        if start < at:
            continue
        if start > at:
            segments.append(text[at:start])
        segments.append(hole)
        at = end
    if at < len(text):
        segments.append(text[at:])
    return segments


_JSON_HOLE = re.compile(r'"@@hole(\d+)@@"')


def json_segments(value: Any, keys: dict[str, Model], remap: Remapper) -> list[Segment]:
    """The JSON value as text, cut where an id of a cloned record or a marker word stands."""
    found: list[IdHole] = []

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                target = keys.get(key)
                if target is not None and isinstance(item, int) and remap.moves(target, item):
                    found.append(IdHole(target, item))
                    out[key] = f"@@hole{len(found) - 1}@@"
                else:
                    out[key] = walk(item)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    text = json.dumps(walk(value), ensure_ascii=False)
    segments: list[Segment] = []
    at = 0
    for match in _JSON_HOLE.finditer(text):
        segments.extend(text_segments(text[at : match.start()], [], remap))
        segments.append(found[int(match.group(1))])
        at = match.end()
    segments.extend(text_segments(text[at:], [], remap))
    return segments


def _has_holes(segments: Sequence[Segment]) -> bool:
    return any(not isinstance(s, str) for s in segments)


def segments_sql(segments: Sequence[Segment], remap: Remapper) -> str:
    parts = []
    for segment in segments:
        if isinstance(segment, str):
            parts.append(_literal(segment))
        elif isinstance(segment, IdHole):
            parts.append(f"({remap.literal_sql(segment.model, segment.pk)})::text")
        else:
            parts.append(_marker_sql(segment.name))
    return "(" + " || ".join(parts or ["''"]) + ")"


def segments_python(segments: Sequence[Segment], remap: Remapper, copy: Copy) -> str:
    out = []
    for segment in segments:
        if isinstance(segment, str):
            out.append(segment)
        elif isinstance(segment, IdHole):
            out.append(str(remap.python(segment.model, segment.pk, copy)))
        else:
            out.append(marker_value(segment.name, copy.setting, copy.case_number))
    return "".join(out)


# --- One table's INSERT ... SELECT ----------------------------------------------------------


def _generic_keys(model: Model) -> dict[str, str]:
    """Each generic key's id column -> its content type column."""
    found = {}
    for private in model._meta.private_fields:
        if isinstance(private, GenericForeignKey):
            ct, fk = _field(model, private.ct_field), _field(model, private.fk_field)
            found[fk.column] = ct.column
    return found


def _template_rows(model: Model, tier: Tier, columns: list[str]) -> list[tuple[Any, ...]]:
    lo, hi = tier.ranges[model]
    pk = _q(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk}, {', '.join(_q(c) for c in columns)} "
            f"FROM {_q(model._meta.db_table)} WHERE {pk} BETWEEN %s AND %s",
            [lo, hi],
        )
        return cursor.fetchall()


def _textual(field: models.Field) -> bool:
    return isinstance(field, models.CharField | models.TextField | models.JSONField)


def _unique_sets(model: Model) -> list[tuple[str, ...]]:
    meta = model._meta
    sets: list[tuple[str, ...]] = [
        (f.name,) for f in meta.local_concrete_fields if f.unique and not f.primary_key
    ]
    sets += [tuple(names) for names in meta.unique_together]
    sets += [
        tuple(c.fields)
        for c in meta.constraints
        if isinstance(c, models.UniqueConstraint) and c.fields
    ]
    return sets


def _never_all_set(model: Model, tier: Tier, names: tuple[str, ...]) -> bool:
    """Whether every template row has an empty (NULL) column in this unique set: NULLs never
    clash, so such a set needs nothing of the copies (a notification names one escalation
    or none)."""
    columns = [_field(model, name).column for name in names]
    lo, hi = tier.ranges[model]
    pk = _q(model._meta.pk.column)
    some_null = " OR ".join(f"{_q(c)} IS NULL" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {_q(model._meta.db_table)} "
            f"WHERE {pk} BETWEEN %s AND %s AND NOT ({some_null})",
            [lo, hi],
        )
        return cursor.fetchone()[0] == 0


@dataclass
class TablePlan:
    model: Model
    columns: list[str] = field(default_factory=list)
    expressions: list[str] = field(default_factory=list)


def plan_table(model: Model, remap: Remapper) -> TablePlan:
    """The column list and the SELECT expression of each column, for one table."""
    tier = remap.tier
    meta = model._meta
    plan = TablePlan(model)
    generic = _generic_keys(model)
    content_types = {
        m: ContentType.objects.get_for_model(m, for_concrete_model=False)
        for m in [*tier.ranges, *(remap.outer.tier.ranges if remap.outer else [])]
    }
    texts = [f for f in meta.local_concrete_fields if _textual(f)]
    rows = _template_rows(model, tier, [f.column for f in texts]) if texts else []
    varying: set[str] = set()
    for f in meta.local_concrete_fields:
        if getattr(f, "generated", False):
            continue
        column, source = f.column, f"t.{_q(f.column)}"
        if f.primary_key and _own_pk(model):
            lo = tier.ranges[model][0]
            expression = f"{remap.base[model]} + k.c * {tier.span(model)} + ({source} - {lo})"
            varying.add(f.name)
        elif f.is_relation and f.related_model is not None:
            target = _target(f)
            expression = remap.sql(target, source)
            if remap.in_tier(target):
                varying.add(f.name)
        elif column in generic:
            ct_column = generic[column]
            cases = []
            for target, content_type in content_types.items():
                if remap.sql(target, "x") == "x":
                    continue  # never moved (an audit entry)
                moved = remap.sql(target, f"({source})::bigint")
                if isinstance(f, models.CharField | models.TextField):
                    moved = f"({moved})::text"
                    guard = f"t.{_q(ct_column)} = {content_type.pk} AND {source} ~ '^[0-9]+$'"
                else:
                    guard = f"t.{_q(ct_column)} = {content_type.pk}"
                cases.append(f"WHEN {guard} THEN {moved}")
                if remap.in_tier(target):
                    varying.add(f.name)
            expression = f"(CASE {' '.join(cases)} ELSE {source} END)" if cases else source
        elif isinstance(f, models.DateTimeField):
            expression = f"{source} + k.shift * interval '1 second'"
        elif isinstance(f, models.DateField):
            expression = f"{source} + floor(k.shift / 86400)::int"
        elif f in texts:
            index = texts.index(f) + 1
            expression = _text_expression(model, f, rows, index, remap, source)
            if expression != source:
                varying.add(f.name)
        else:
            expression = source
        plan.columns.append(column)
        plan.expressions.append(expression)
    # A unique value no copy changes (a text with no id or marker in it) would clash: such a
    # text takes the copy's number. None does today; a new unique column might.
    for names in _unique_sets(model):
        if varying.intersection(names) or _never_all_set(model, tier, names):
            continue
        texts_in_set = [
            _field(model, n) for n in names if isinstance(_field(model, n), models.CharField)
        ]
        if not texts_in_set:
            raise RuntimeError(
                f"{meta.db_table}: the copies of unique {names} would clash and no text in "
                "it can take a copy's number."
            )
        for f in texts_in_set:
            at = plan.columns.index(f.column)
            value = plan.expressions[at]
            room = (f.max_length or 200) - 12
            plan.expressions[at] = (
                f"(CASE WHEN {value} <> '' THEN left({value}, {room}) || '-' || k.c "
                f"ELSE {value} END)"
            )
    return plan


def _text_expression(
    model: Model,
    f: models.Field,
    rows: list[tuple[Any, ...]],
    index: int,
    remap: Remapper,
    source: str,
) -> str:
    keys = {
        key: target
        for key, label in JSON_RULES.get((_label(model), f.name), {}).items()
        if (target := _model(label)) is not None
    }
    rules = _rules_for(model, f.name)
    branches = []
    for row in rows:
        value = row[index]
        if value is None:
            continue
        if isinstance(f, models.JSONField):
            if isinstance(value, str):  # Django reads JSON from PostgreSQL as text
                value = json.loads(value)
            segments = json_segments(value, keys, remap)
        else:
            segments = text_segments(value, rules, remap)
        if _has_holes(segments):
            built = segments_sql(segments, remap)
            if isinstance(f, models.JSONField):
                built = f"({built})::jsonb"
            branches.append(f"WHEN {row[0]} THEN {built}")
    if not branches:
        return source
    return f"(CASE t.{_q(model._meta.pk.column)} {' '.join(branches)} ELSE {source} END)"


# --- Clone runs -----------------------------------------------------------------------------


def _fill_copies(copies: Iterable[Copy]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scale_copies (c bigint PRIMARY KEY, "
            "outer_c bigint, setting int NOT NULL, case_number int NOT NULL, "
            "shift double precision NOT NULL)"
        )
        cursor.execute("TRUNCATE scale_copies")
        count = 0
        with cursor.cursor.copy(
            "COPY scale_copies (c, outer_c, setting, case_number, shift) FROM STDIN"
        ) as copy:
            for line in copies:
                copy.write_row((line.c, line.outer_c, line.setting, line.case_number, line.shift))
                count += 1
        cursor.execute("ANALYZE scale_copies")
    return count


def _copies_in_order() -> list[Copy]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c, outer_c, setting, case_number, shift FROM scale_copies ORDER BY c"
        )
        return [Copy(*row) for row in cursor.fetchall()]


def _allocate(tier: Tier, copies: int) -> dict[Model, int]:
    """Room for the copies after each table's highest id (its sequence moved past them)."""
    base = {}
    with connection.cursor() as cursor:
        for model in tier.ranges:
            # Audit entries are numbered by the database as they stream in (the chain
            # orders them, not their ids).
            if not _own_pk(model) or model is AuditEntry:
                continue
            table, pk = model._meta.db_table, model._meta.pk.column
            cursor.execute(f"SELECT COALESCE(MAX({_q(pk)}), 0) FROM {_q(table)}")
            top = cursor.fetchone()[0]
            base[model] = top + 1
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)",
                [table, pk, top + copies * tier.span(model)],
            )
    return base


def clone(
    tier: Tier,
    copies: Iterable[Copy],
    *,
    outer: CloneRun | None = None,
    audit: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> CloneRun:
    """Copy the tier's rows once per copy; the audit entries too unless ``audit`` is off."""
    count = _fill_copies(copies)
    base = _allocate(tier, count)
    run = CloneRun(tier, base, count)
    remap = Remapper(tier, base, outer)
    started = perf_counter()
    plans = [plan_table(m, remap) for m in tier.ranges if m is not AuditEntry]
    rows_per_copy = sum(n for m, n in tier.counts.items() if m is not AuditEntry) or 1
    step = max(1, ROWS_PER_TRANSACTION // rows_per_copy)
    expected = rows_per_copy * count + (tier.counts.get(AuditEntry, 0) * count if audit else 0)
    tables = [m for m in tier.ranges if audit or m is not AuditEntry]
    with _key_triggers_off() as off, _plain_indexes_dropped(tables, expected):
        run.keys_checked_by_database = not off
        for first in range(0, count, step):
            last = min(first + step, count) - 1
            with transaction.atomic(), connection.cursor() as cursor:
                for plan in plans:
                    table, began = plan.model._meta.db_table, perf_counter()
                    run.rows += _insert(plan, tier, first, last, cursor)
                    run.table_seconds[table] = (
                        run.table_seconds.get(table, 0.0) + perf_counter() - began
                    )
            progress(f"{tier.name}: {last + 1} of {count} copies")
        run.rows_seconds = perf_counter() - started
        entries = None
        if audit and AuditEntry in tier.ranges:
            started = perf_counter()
            before = snapshot_of(AuditEntry)
            run.entries = clone_audit_entries(tier, remap, _copies_in_order())
            entries = (before + 1, snapshot_of(AuditEntry))
            run.entries_seconds = perf_counter() - started
        started = perf_counter()
    run.index_seconds = perf_counter() - started
    run.keys_sampled, run.keys_dangling = dangling_keys(run, entries)
    if run.keys_dangling:
        raise RuntimeError(f"{tier.name}: {run.keys_dangling} copied keys point at no row.")
    return run


# Runs writing more rows than this build their tables' plain indexes again afterwards.
INDEX_REBUILD_ROWS = 200_000


@contextmanager
def _plain_indexes_dropped(tables: Sequence[Model], rows: int) -> Iterator[None]:
    """For a big run, the tables' plain (not unique) indexes are dropped, and built again
    once the rows are in: PostgreSQL builds an index over millions of rows several times
    faster than it keeps one up to date row by row. Primary keys and unique indexes stay,
    holding their constraints throughout."""
    if rows < INDEX_REBUILD_ROWS:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "WHERE c.relname = ANY(%s) AND NOT i.indisunique AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
            [[m._meta.db_table for m in tables]],
        )
        dropped = cursor.fetchall()
        for name, _ in dropped:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in dropped:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")


def _insert(plan: TablePlan, tier: Tier, first: int, last: int, cursor: Any) -> int:
    meta = plan.model._meta
    lo, hi = tier.ranges[plan.model]
    pk = _q(meta.pk.column)
    cursor.execute(
        f"INSERT INTO {_q(meta.db_table)} ({', '.join(_q(c) for c in plan.columns)}) "
        f"SELECT {', '.join(plan.expressions)} "
        f"FROM {_q(meta.db_table)} t CROSS JOIN scale_copies k "
        f"WHERE t.{pk} BETWEEN {lo} AND {hi} AND k.c BETWEEN {first} AND {last} "
        f"ORDER BY k.c, t.{pk}"
    )
    return int(cursor.rowcount)


@contextmanager
def _key_triggers_off() -> Iterator[bool]:
    """PostgreSQL checks each foreign key with a trigger, row by row, when the transaction
    commits: for a million copies, most of the time. A superuser may switch triggers off for
    the session (``session_replication_role``); the keys are then checked afterwards on
    whole copies (``dangling_keys``). Anyone else copies with the checks on, only slower.
    Unique and check constraints hold either way."""
    with connection.cursor() as cursor:
        try:
            cursor.execute("SET session_replication_role = replica")
            off = True
        except DatabaseError:
            off = False
    try:
        yield off
    finally:
        if off:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")


_SAMPLED_COPIES = 3


def dangling_keys(run: CloneRun, entries: tuple[int, int] | None) -> tuple[int, int]:
    """Every foreign key of the first and last copies' rows (and of the first and last audit
    entries written, ids ``entries``), looked up in the table it names: how many were
    checked, and how many point at no row. Every copy is made by the same SQL, only its
    number differing, so a key wrong in one copy is wrong in these."""
    sampled = sorted(
        {*range(min(_SAMPLED_COPIES, run.copies))}
        | {*range(max(run.copies - _SAMPLED_COPIES, 0), run.copies)}
    )
    ranges: dict[Model, list[tuple[int, int]]] = {}
    for model in run.tier.ranges:
        if model is not AuditEntry:
            keyed = keyed_by(model)
            span, base = run.tier.span(keyed), run.base[keyed]
            ranges[model] = [(base + n * span, base + (n + 1) * span - 1) for n in sampled]
    if entries is not None:
        first, last = entries
        edge = _SAMPLED_COPIES * run.tier.counts.get(AuditEntry, 0)
        ranges[AuditEntry] = [(first, first + edge), (max(first, last - edge), last)]
    checked = dangling = 0
    with connection.cursor() as cursor:
        for model, spans in ranges.items():
            pk = f"c.{_q(model._meta.pk.column)}"
            where = " OR ".join(f"{pk} BETWEEN {lo} AND {hi}" for lo, hi in spans)
            for f in model._meta.local_concrete_fields:
                if not f.is_relation or f.related_model is None:
                    continue
                target = _target(f)
                column = _q(f.column)
                target_column = _q(f.target_field.column)  # type: ignore[attr-defined]
                cursor.execute(
                    f"SELECT COUNT(c.{column}), COUNT(c.{column}) FILTER (WHERE NOT EXISTS ("
                    f"SELECT 1 FROM {_q(target._meta.db_table)} p "
                    f"WHERE p.{target_column} = c.{column})) "
                    f"FROM {_q(model._meta.db_table)} c WHERE {where}"
                )
                found, missing = cursor.fetchone()
                checked, dangling = checked + found, dangling + missing
    return checked, dangling


# --- The audit chain ------------------------------------------------------------------------


# The installation chain's own records of the settings' chains: never copied (a copy's chain
# is recorded as the product records one, below).
_BOOKKEEPING = {
    getattr(AuditAction, name)
    for name in ("CHAIN_STARTED", "CHAIN_HEADS")
    if hasattr(AuditAction, name)
}


def _chain_of(entry: AuditEntry) -> int:
    chain_of = getattr(audit_chain, "chain_of", None)
    if chain_of is None:  # one chain for the whole log
        return 0
    return int(chain_of(entry.organisation_id))


class ChainWriter:
    """Places entries at the end of their chains and hashes them as ``append`` does: a
    setting's chain, and when a chain starts, the installation chain's record of its start."""

    def __init__(self) -> None:
        self.heads: dict[int, tuple[int, str]] = {}
        self.per_chain = hasattr(AuditEntry, "chain")

    def _head(self, chain: int) -> tuple[int, str]:
        if chain not in self.heads:
            self.heads[chain] = audit_chain.head(chain) if self.per_chain else audit_chain.head()
        return self.heads[chain]

    def _stamp(self, entry: AuditEntry, chain: int) -> None:
        sequence, previous = self._head(chain)
        if self.per_chain:
            setattr(entry, "chain", chain)  # noqa: B010 (a field only some schemas have)
        entry.sequence = sequence + 1
        entry.previous_hash = previous
        entry.entry_hash = audit_chain.content_hash(entry)
        self.heads[chain] = (entry.sequence, entry.entry_hash)

    def place(self, entry: AuditEntry) -> list[AuditEntry]:
        """The entry, placed; and the record of its chain's start when it is the first."""
        chain = _chain_of(entry)
        self._stamp(entry, chain)
        started = getattr(audit_chain, "_chain_started", None)
        if not self.per_chain or chain == 0 or entry.sequence != 1 or started is None:
            return [entry]
        record = started(chain, entry)
        record.at = entry.at
        self._stamp(record, 0)
        return [entry, record]


_AUDIT_BATCH = 20_000


def _shifted(at: datetime) -> Callable[[Copy], datetime]:
    return lambda copy: at + timedelta(seconds=copy.shift)


def _rewritten(segments: list[Segment], remap: Remapper) -> Callable[[Copy], str]:
    return lambda copy: segments_python(segments, remap, copy)


def clone_audit_entries(tier: Tier, remap: Remapper, copies: Sequence[Copy]) -> int:
    """Each copy's audit entries, merged in time order, chained and streamed in with COPY."""
    lo, hi = tier.ranges[AuditEntry]
    template = [
        entry
        for entry in AuditEntry.objects.filter(pk__range=(lo, hi)).order_by("at", "pk")
        if entry.action not in _BOOKKEEPING
    ]
    meta = AuditEntry._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    placed = {"sequence", "previous_hash", "entry_hash", "chain"}
    # What changes from copy to copy, worked out once per template entry: a million entries
    # are built from these, so each is a dictionary copied and a few values set.
    recipes = []
    for entry in template:
        kept = {f.attname: getattr(entry, f.attname) for f in fields if f.name not in placed}
        changes: list[tuple[str, Callable[[Copy], Any]]] = []
        for f in fields:
            value = kept.get(f.attname)
            if f.name in placed or value is None:
                continue
            if f.is_relation and f.related_model is not None:
                if remap.moves(_target(f), value):
                    changes.append((f.attname, remap.mover(_target(f), value)))
            elif f.name == "object_id":
                named = remap.by_name.get(entry.object_type)
                if named is not None and remap.moves(named, value):
                    changes.append((f.attname, remap.mover(named, value)))
            elif isinstance(f, models.DateTimeField):
                changes.append((f.attname, _shifted(value)))
            elif isinstance(f, models.CharField | models.TextField) and f.name not in (
                "object_type",
                "action",
            ):
                segments = text_segments(value, _rules_for(AuditEntry, f.name), remap)
                if _has_holes(segments):
                    changes.append((f.attname, _rewritten(segments, remap)))
        recipes.append((kept, changes))

    def entries_of(copy: Copy) -> Iterator[tuple[datetime, int, int, AuditEntry]]:
        for n, (kept, changes) in enumerate(recipes):
            values = dict(kept)
            for attname, change in changes:
                values[attname] = change(copy)
            # Built as the database would hand it back, without Model.__init__'s work per
            # field: every attribute the hash and the COPY read is set here.
            entry = AuditEntry.__new__(AuditEntry)
            entry.__dict__.update(values)
            entry._state = ModelState()
            yield values["at"], copy.c, n, entry

    merged = heapq.merge(*(entries_of(copy) for copy in copies))
    writer = ChainWriter()
    columns = [f.column for f in fields]
    written = 0
    batch: list[AuditEntry] = []
    for _, _, _, entry in merged:
        batch.extend(writer.place(entry))
        if len(batch) >= _AUDIT_BATCH:
            written += _copy_entries(batch, fields, columns)
            batch = []
    written += _copy_entries(batch, fields, columns)
    # The installation chain records every chain's head, as the product does every few
    # minutes while entries are appended; verify_audit then holds each chain to it.
    record_heads = getattr(audit_chain, "record_heads", None)
    if record_heads is not None:
        record_heads()
    return written


def _copy_entries(batch: list[AuditEntry], fields: list[Any], columns: list[str]) -> int:
    if not batch:
        return 0
    table = AuditEntry._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        names = ", ".join(_q(c) for c in columns)
        attnames = [f.attname for f in fields]
        with cursor.cursor.copy(f"COPY {_q(table)} ({names}) FROM STDIN") as copy:
            for entry in batch:
                values = entry.__dict__
                copy.write_row([values[attname] for attname in attnames])
    return len(batch)


def vacuum_analyze() -> None:
    """The tables as autovacuum keeps a database that grew slowly to this size: planner
    statistics fresh, and the new rows' pages marked all-visible. Left to autovacuum, it
    would run during the timings instead."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        # And every page the seeding dirtied written out now, not by a checkpoint that
        # would land in the middle of the timings (only a superuser may ask for one).
        with suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
