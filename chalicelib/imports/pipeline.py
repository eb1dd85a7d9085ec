"""Row rules, upsert and removal: what one partner file does to the prospect register.

Rules (the privacy notice: only representatives of organisations, never private persons)
    Each rejected row is reported with its line number and a reason code; the good rows
    still import. Reason codes: ``no_organisation``, ``free_mail_domain`` (the address is
    at a consumer mail service, so the row describes a private person), ``missing_email``,
    ``invalid_email``, ``missing_name``, ``invalid_<field>`` (phone, title, source_url …,
    by the register's field rules, as in the customer register), ``not_imported`` (the
    address is on the do-not-import list, or the row's phone number on the do-not-call
    list; skipped and never re-added. The reason is deliberately not given: an objection
    to direct marketing must not be told to a partner, so this code covers every entry of
    either list, whatever put it there. A row skipped for its number leaves the person as
    the register has them: a full refresh does not count them as missing), ``erased_on_request``
    (the person's prospect record was erased at their request, Art. 17: the address has a
    do-not-re-add entry; the row is skipped, the report names the line only, and the partner
    that sent it is the one that should stop: partners whose files brought the person were
    told of the erasure, Art. 19), ``restricted`` (the person's record is restricted, GDPR
    Art. 18: an import does not change it, nor does a full refresh remove it;
    chalicelib/restriction.py) and ``duplicate_in_file`` (the same
    person again: the first occurrence in the file wins, later ones are merged into it
    and reported with ``first_line`` when it is known).

Upsert without needless writes
    Rows are read in chunks; for each chunk one BatchGetItem reads only provenance
    attributes (content hash, runs, line; never personal values, so no read is audited)
    and a row whose values hash the same as the stored ones writes nothing. New and
    changed rows are written with BatchWriteItem, 25 per request, buffered across chunks,
    so write requests ≈ ceil(changed rows / 25). An unchanged row is still a fresh
    verification; it is written (``reverified``) only when the stored verification is
    older than ``REVERIFY_AFTER_DAYS``, which keeps re-imports write-free and moves the
    24-month clock at most that many days late (erring towards earlier deletion). A
    reverification changes only ``last_verified`` and the retention attributes (and the
    provenance): the stored values, with any staff correction, stay until the partner
    sends a *changed* row (GDPR Art. 16).

Writes against concurrent changes
    BatchWriteItem cannot be conditional. Right before each batch of ≤ 25 is sent, its
    items and their PROFILEs are read again with one consistent BatchGetItem (full items)
    and the suppression list is checked: a row whose person objected meanwhile is dropped
    (``not_imported``; erased on request meanwhile: ``erased_on_request``), one whose item
    was deleted, created or changed by staff or another run since the chunk was read is
    dropped (``changed_meanwhile``, imported again by the partner's next file), and a legal
    hold set meanwhile is carried over. This costs one
    consistent read (and the suppression look-ups) per 100 writes (`RECHECK_WINDOW`: four
    write requests), nothing when nothing changes, and keeps write requests ≈ ceil(changed
    rows / 25); the window left is the milliseconds between that read and the writes (writes
    still to send after a retried request, or `RECHECK_FRESH_SECONDS` after the read, are
    re-checked again; closing the window needs a conditional write per item, 25× the requests).

Crash safety
    Every written item records the run and the file line that wrote it. A redelivery
    resumes at the last checkpoint and re-reads the rows after it: a row that this run
    already wrote is recognised (same run, same line) and counted as before, so counts
    stay exact and nothing is written twice.

Audit: exactly one event per change
    A row's event has a deterministic key (run, line, action: `audit.event_key`) and is
    written after the row's batch, 25 events a BatchWriteItem with no condition: the key is
    new to this run. Before a window's first write the run is marked (`runs.mark_writing`;
    the window's checkpoint clears it). A delivery that finds the mark follows one that died
    mid-window: it writes its first window's events alone, each on the condition that the key
    is not recorded (`audit.put_once`), as it does for any row it recognises as this run's
    own write. So an event that is missing is added and one already there stays as it is,
    even for a row changed or deleted meanwhile and written again. A removal (full refresh)
    writes its event in the same transaction as the removal.

Full refresh
    At the end of a full-refresh file (``runs.FULL_REFRESH``) the partner's prospects
    (``by_source``) missing from the file are removed: deleted entirely, unless a staff
    member created or has verified the prospect since the partner brought it, or another
    partner also supports it (then only this partner's claim is removed), or it is under
    a legal hold. When another partner supports it and the PROFILE held the leaving
    partner's values (not staff's), the PROFILE takes that partner's values from its
    SOURCE item, so no outdated values stay behind. The prospects seen in the file are
    kept as 64-bit fingerprints of their ids (in memory 8 bytes per distinct row, in
    sorted arrays: `seen.SeenRows`; in work files between invocations).
"""

from __future__ import annotations

import json
import random
import time
import weakref
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib import art14, audit, clock, disclosures, prospects, pseudonyms, restriction, store, suppression
from chalicelib.audit import Access
from chalicelib.auth import SYSTEM_IMPORT
from chalicelib.config import settings
from chalicelib.errors import Conflict
from chalicelib.imports import runs
from chalicelib.imports.read import OutOfTime, UnreadableFile, Upload
from chalicelib.imports.seen import SeenRows
from chalicelib.registers import PROSPECT
from chalicelib.validation import email_key, normalise_email, schema

REVERIFY_AFTER_DAYS = 30
ERASED_ON_REQUEST = "erased_on_request"  # the reject reason of a row whose person was erased on request
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
# Writes re-checked together, then sent 25 a request: a row's two items (its PROFILE and the
# partner's own item) are two keys, so 100 writes are one consistent read of 100 keys and one
# suppression look-up of 50 addresses for 4 write requests (one re-check per request before).
RECHECK_WINDOW = 4 * BATCH_WRITE_MAX
RECHECK_FRESH_SECONDS = 0.2  # past this (or after a retry) the writes left are re-checked again
# The partner's items read per page in a full refresh's removal phase; a page is checkpointed
# when done, or where the time ran out within it.
REMOVAL_PAGE = 500
RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
_DESER = TypeDeserializer()
_ROW_MODEL = schema(PROSPECT, "create")


class ImportInterrupted(RuntimeError):
    """DynamoDB kept refusing after every retry; the message is retried from the checkpoint."""


@dataclass
class Limits:
    """How much one invocation does before it checkpoints and hands over."""

    chunk_rows: int = 50  # two keys per row per key version in one BatchGetItem (≤ 100)
    checkpoint_rows: int = 5000
    segment_rows: int | None = None  # a hard cap per invocation (tests, the local stack)
    reserve_seconds: float = 30.0  # stop this long before the Lambda timeout


def pause(seconds: float) -> None:
    """Wait between retries (tests replace it: no sleeping on wall-clock time)."""
    time.sleep(seconds)


def backoff(attempt: int, base: float = 0.05, cap: float = 5.0) -> float:
    """Full-jitter exponential backoff (AWS architecture blog's recommendation)."""
    return float(random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311 (jitter, not crypto)


@dataclass
class Guard:
    """What an import write assumed about the table when it was built (checked again before sending)."""

    line: int
    kind: str  # the counter the row went to: inserted, updated, reverified
    email_norm: str
    expected: dict[str, Any] | None  # the item's provenance as read (None: the item did not exist)
    access: Access
    event_key: str
    reverify: bool = False  # only the verification changes: the stored item is kept as it is
    # The PROFILE written beside the partner's own SOURCE item: not counted, no event of its
    # own; dropped silently when it no longer holds (the row's own item is what counts).
    companion: bool = False
    phone: str | None = None  # the row's number (E.164), checked against the do-not-call list


@dataclass
class Pending:
    item: dict[str, Any]
    guard: Guard | None = None


class ItemWriter:
    """BatchWriteItem in requests of 25, retrying UnprocessedItems and throttling with backoff.

    botocore's adaptive retry mode already retries throttled requests; this loop also
    resends the items a successful request left unprocessed, which botocore does not.
    Nothing is dropped: after `max_attempts` the import stops at its checkpoint.
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 10,
        recheck: Callable[[list[Pending]], list[Pending]] | None = None,
    ):
        self.table_name = table_name
        self.client = client or store.client("dynamodb")
        self.sleep = sleep or (lambda seconds: pause(seconds))
        self.max_attempts = max_attempts
        self.recheck = recheck
        self.pending: list[Pending] = []
        self.requests = 0
        self.items_written = 0
        self.retries = 0

    def put(self, item: dict[str, Any], guard: Guard | None = None) -> None:
        self.pending.append(Pending(item, guard))
        if len(self.pending) >= RECHECK_WINDOW:
            self._write(self.pending[:RECHECK_WINDOW])
            self.pending = self.pending[RECHECK_WINDOW:]

    def flush(self) -> None:
        while self.pending:
            self._write(self.pending[:RECHECK_WINDOW])
            self.pending = self.pending[RECHECK_WINDOW:]

    def _write(self, entries: list[Pending]) -> None:
        """Re-check the entries against the table as it is now, then send what still holds.

        The re-check holds for the requests sent right after it; entries still to send once a
        request had to be retried, or once `RECHECK_FRESH_SECONDS` have passed, are re-checked
        again first, so a slow or throttled batch does not widen the window it closes.
        """
        while entries:
            if self.recheck is not None:
                entries = self.recheck(entries)
            checked, retries = time.monotonic(), self.retries
            while entries:
                batch, entries = entries[:BATCH_WRITE_MAX], entries[BATCH_WRITE_MAX:]
                self._send([{"PutRequest": {"Item": store.typed_item(e.item)}} for e in batch])
                if self.retries != retries or time.monotonic() - checked > RECHECK_FRESH_SECONDS:
                    break

    def _send(self, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while batch:
            try:
                self.requests += 1
                resp = self.client.batch_write_item(RequestItems={self.table_name: batch})
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in RETRYABLE:
                    raise
                unprocessed = batch
            else:
                unprocessed = resp.get("UnprocessedItems", {}).get(self.table_name, [])
                self.items_written += len(batch) - len(unprocessed)
            if not unprocessed:
                return
            attempt += 1
            self.retries += 1
            if attempt >= self.max_attempts:
                raise ImportInterrupted("DynamoDB kept throttling the import's writes.")
            self.sleep(backoff(attempt))
            batch = unprocessed


def batch_get(
    keys: list[dict[str, str]],
    projection: tuple[str, ...] | None,
    sleep: Callable[[float], None],
    *,
    consistent: bool = False,
) -> list[dict[str, Any]]:
    """Items for `keys` from the prospects table (projected unless None), retrying UnprocessedKeys."""
    client = store.client("dynamodb")
    table = settings().prospects_table
    names = {f"#a{i}": a for i, a in enumerate(projection or ())}
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_MAX):
        spec: dict[str, Any] = {
            "Keys": [{"pk": {"S": k["pk"]}, "sk": {"S": k["sk"]}} for k in keys[start : start + BATCH_GET_MAX]],
            "ConsistentRead": consistent,
        }
        if names:
            spec.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        request: dict[str, Any] = {table: spec}
        attempt = 0
        while request:
            resp = client.batch_get_item(RequestItems=request)
            found.extend({k: _DESER.deserialize(v) for k, v in i.items()} for i in resp["Responses"].get(table, []))
            request = resp.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                if attempt >= 10:
                    raise ImportInterrupted("DynamoDB kept throttling the import's reads.")
                sleep(backoff(attempt))
    return found


# -- rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reject:
    reason: str
    field: str = ""


def check_row(raw: dict[str, str], free_mail: frozenset[str]) -> dict[str, Any] | Reject:
    """Validate and normalise one row, or say why it is rejected."""
    if not raw.get("organization"):
        return Reject("no_organisation", "organization")
    if not raw.get("email"):
        return Reject("missing_email", "email")
    try:
        email = normalise_email(raw["email"])
    except ValueError:
        return Reject("invalid_email", "email")
    problem = prospects.not_a_representative(raw["organization"], email, free_mail)
    if problem:
        return Reject(problem, "email" if problem == "free_mail_domain" else "organization")
    if not raw.get("contact_name"):
        return Reject("missing_name", "contact_name")
    payload = {k: v for k, v in raw.items() if v and k in PROSPECT.field_names}
    payload["email"] = email
    try:
        model = _ROW_MODEL.model_validate(payload)
    except ValidationError as exc:
        loc = exc.errors(include_input=False, include_url=False)[0]["loc"]
        name = str(loc[0]) if loc else "row"
        return Reject(f"invalid_{name}", name)
    values: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return values


def fingerprint(prospect_id: str) -> int:
    return int(prospect_id[:16], 16)


# -- the import ---------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    email_norm: str
    candidates: list[str]
    prospect_id: str = ""  # the id the row resolved to (set by `_upsert`)

    @cached_property
    def email_hash(self) -> str:
        """The `by_email` key of the row's items, made once per row from its normalised address."""
        return pseudonyms.key_hash(self.email_norm)


@dataclass
class _ProfileWrite:
    """The PROFILE written before the partner's own item (re-checked, not counted)."""

    item: dict[str, Any]
    expected: dict[str, Any] | None  # the PROFILE as read (None: new)
    reverify: bool = False  # only its verification moves; the stored PROFILE is kept


def _weakly(method: Callable[[list[Pending]], list[Pending]]) -> Callable[[list[Pending]], list[Pending]]:
    """`method`, called through a weak reference to its object."""
    ref = weakref.WeakMethod(method)

    def call(entries: list[Pending]) -> list[Pending]:
        bound = ref()
        if bound is None:  # the writer outlived its importer: nothing can be re-checked
            raise RuntimeError("The importer of this writer is gone.")
        return bound(entries)

    return call


@dataclass
class Importer:
    """One invocation's work on one run: rows from the checkpoint on, then removal."""

    run: dict[str, Any]
    owner: str
    limits: Limits = field(default_factory=Limits)
    remaining: Callable[[], float] = lambda: 900.0
    sleep: Callable[[float], None] = lambda seconds: pause(seconds)
    writer: ItemWriter | None = None
    seen: SeenRows = field(default_factory=SeenRows)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    # Each written row's access, its event's key, and whether this run wrote the row before a
    # crash (then its event may be recorded already).
    accesses: list[tuple[Access, str, bool]] = field(default_factory=list)
    _window_start: int = 0
    _window_seen: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.writer is None:
            # Called back weakly: a bound method would be a cycle (importer -> writer -> importer)
            # that keeps each segment's seen-rows set alive until the cyclic GC runs, so a warm
            # Lambda's next segment would hold two sets at once.
            self.writer = ItemWriter(settings().prospects_table, sleep=self.sleep, recheck=_weakly(self._recheck))
        self.events = ItemWriter(store.audit().name, sleep=self.sleep)
        self.partner = str(self.run["partner_id"])
        self.run_id = str(self.run["run_id"])
        self.actor = audit.Actor(SYSTEM_IMPORT, self.run_id)
        received = datetime.fromisoformat(str(self.run["received_at"]).replace("Z", "+00:00"))
        self.run_sortable = clock.sortable(received)
        self.free_mail = frozenset(settings().free_mail_domains)
        self.counts: dict[str, int] = {k: int(v) for k, v in self.run["counts"].items()}
        # A delivery before this one began writing past the checkpoint and did not reach the
        # next: rows of the first window may be written with their events (see `_flush_audit`).
        self.recovering = bool(self.run["checkpoint"].get("writing"))
        self._marked = False  # this window's writes are recorded as begun (`runs.mark_writing`)
        self.by_reason: dict[str, int] = {k: int(v) for k, v in self.run.get("rejected_by_reason", {}).items()}

    @property
    def checkpoint(self) -> dict[str, Any]:
        return dict(self.run["checkpoint"])

    def _out_of_time(self, rows_this_segment: int) -> bool:
        cap = self.limits.segment_rows
        return (cap is not None and rows_this_segment >= cap) or self.remaining() < self.limits.reserve_seconds

    # ---- phase 1: rows

    def load_seen(self) -> None:
        """Fingerprints of the rows earlier invocations of this run processed."""
        self.seen.load(runs.work_objects(self.run_id, "seen/"))

    def import_rows(self, upload: Upload) -> bool:
        """Process rows from the checkpoint; True when the file is done, False to continue.

        The reader asks `out_of_time` for every row the file holds, empty ones included, so
        a stretch of rows that import nothing still ends the segment in time. A segment that
        runs out of time before it gets one row past the checkpoint would only be repeated
        by the next one, so the file is refused (``too_slow_to_read``) instead.
        """
        start = int(self.checkpoint["row"])
        if start:
            self.load_seen()
        self._window_start = start
        done_rows = start
        segment_rows = 0
        chunk: list[tuple[int, dict[str, str]]] = []
        exhausted = interrupted = False
        try:
            rows = _skip(upload.rows, start)
        except OutOfTime:
            rows, interrupted = iter(()), True
        while not exhausted and not interrupted:
            chunk = []
            try:
                for line, raw in rows:
                    chunk.append((line, raw))
                    if len(chunk) >= self.limits.chunk_rows:
                        break
                else:
                    exhausted = True
            except OutOfTime:
                interrupted = True
            if chunk:
                self._process_chunk(chunk)
                done_rows += len(chunk)
                segment_rows += len(chunk)
            if exhausted or done_rows - self._window_start >= self.limits.checkpoint_rows:
                self._save(done_rows, "rows" if not exhausted else self._after_rows())
            if not exhausted and (interrupted or self._out_of_time(segment_rows)):
                if done_rows == start and interrupted:
                    raise UnreadableFile(
                        "too_slow_to_read", "Reading the file took longer than an import may take, without progress."
                    )
                if done_rows != self._window_start:
                    self._save(done_rows, "rows")
                return False
        return True

    def _after_rows(self) -> str:
        return "removal" if self.run.get("full_refresh") else "finish"

    def _writing(self) -> None:
        """Before the window's first write: mark the run, so a redelivery knows rows may be written."""
        if not self._marked:
            runs.mark_writing(self.run_id, self.owner)
            self._marked = True

    def _save(self, done_rows: int, phase: str) -> None:
        """Flush writes and audit, persist this window's rejects and fingerprints, checkpoint."""
        assert self.writer is not None
        self.writer.flush()
        self._flush_audit()
        name = f"{self._window_start:012d}"
        if self.rejects:
            runs.put_work(self.run_id, f"rejects/{name}.json", json.dumps(self.rejects).encode())
        if self._window_seen:
            runs.put_work(self.run_id, f"seen/{name}.bin", array("Q", self._window_seen).tobytes())
        self.rejects, self._window_seen = [], []
        checkpoint = {k: v for k, v in self.checkpoint.items() if k != "writing"} | {"row": done_rows, "phase": phase}
        self.run.update(checkpoint=checkpoint, counts=dict(self.counts), rejected_by_reason=dict(self.by_reason))
        runs.save_progress(self.run, self.owner)
        self._window_start = done_rows
        self.recovering = self._marked = False  # the next window starts clean

    def _reject(self, line: int, reject: Reject, **extra: Any) -> None:
        self.counts["rejected"] += 1
        self.by_reason[reject.reason] = self.by_reason.get(reject.reason, 0) + 1
        entry: dict[str, Any] = {"line": line, "reason": reject.reason}
        if reject.field:
            entry["field"] = reject.field
        entry.update(extra)
        self.rejects.append(entry)

    def _process_chunk(self, chunk: list[tuple[int, dict[str, str]]]) -> None:
        good: list[_Row] = []
        for line, raw in chunk:
            self.counts["rows"] += 1
            checked = check_row(raw, self.free_mail)
            if isinstance(checked, Reject):
                self._reject(line, checked)
                continue
            norm = email_key(checked["email"])
            good.append(_Row(line, checked, norm, prospects.candidate_ids(norm)))
        if not good:
            return
        objected, erased = suppression.import_blocks(sorted({r.email_norm for r in good}))
        do_not_call = suppression.suppressed_phones({r.values["phone"] for r in good if r.values.get("phone")})
        rows = []
        for row in good:
            if row.email_norm in objected:
                self._reject(row.line, Reject("not_imported"))
            elif row.email_norm in erased:
                # Erased on the person's request: not brought back (the register no longer
                # holds them, so a full refresh has no one to keep).
                self._reject(row.line, Reject(ERASED_ON_REQUEST))
            elif row.values.get("phone") in do_not_call:
                # Skipped like an objection, with the same code (the partner is not told why);
                # the person stays as the register has them, so a full refresh does not
                # erase them for a number they asked not to be called on.
                self._reject(row.line, Reject("not_imported"))
                self._keep(row)
            else:
                rows.append(row)
        if not rows:
            return
        keys: dict[tuple[str, str], None] = {}
        for row in rows:
            for pid in row.candidates:
                keys[(prospects.pk(pid), prospects.PROFILE)] = None
                keys[(prospects.pk(pid), prospects.source_sk(self.partner))] = None
        found = batch_get([{"pk": p, "sk": s} for p, s in keys], prospects.META, self.sleep)
        existing = {(i["pk"], i["sk"]): i for i in found}
        for row in rows:
            self._upsert(row, existing)

    def _keep(self, row: _Row) -> None:
        """Count a skipped row's person as seen, under every id they may have (full refresh)."""
        for pid in row.candidates:
            fp = fingerprint(pid)
            if self.seen.add(fp):
                self._window_seen.append(fp)

    def _upsert(self, row: _Row, existing: dict[tuple[str, str], dict[str, Any]]) -> None:
        assert self.writer is not None
        profile = None
        pid = row.candidates[0]
        for candidate in row.candidates:
            if (prospects.pk(candidate), prospects.PROFILE) in existing:
                pid, profile = candidate, existing[(prospects.pk(candidate), prospects.PROFILE)]
                break
        row.prospect_id = pid
        if profile is not None and "restriction" in profile:
            # Art. 18: a restricted record is not changed by an import; the person stays as
            # the register has them (a full refresh does not count them as missing).
            self._reject(row.line, Reject(restriction.SKIP_REASON))
            self._keep(row)
            return
        fp = fingerprint(pid)
        if fp in self.seen:
            self._reject(row.line, Reject("duplicate_in_file"))
            return
        self.seen.add(fp)
        self._window_seen.append(fp)
        # The partner's own values live in its SOURCE item, always; the PROFILE holds the
        # register's values, which are this partner's while `values_from` names it.
        mine = existing.get((prospects.pk(pid), prospects.source_sk(self.partner)))
        holds_values = profile is not None and profile.get("values_from") == self.partner
        now = clock.iso()
        digest = prospects.content_hash(row.values)
        provenance = {
            "source_partner": self.partner,
            "content_hash": digest,
            "last_import_run": self.run_id,
            "import_line": row.line,
        }
        if mine is not None and mine.get("last_import_run") == self.run_id:
            if int(mine.get("import_line", -1)) == row.line:
                # Written by this run before a crash: count it as it was counted then, and
                # write its event unless that is recorded already.
                inserted = mine.get("first_import_run") == self.run_id
                self.counts["inserted" if inserted else "updated"] += 1
                action = "create" if inserted else "update"
                access = Access(action, prospects.REGISTER, pid, prospects.personal_fields(row.values))
                self.accesses.append((access, self._row_key(row.line, action), True))
                if profile is None or (holds_values and profile.get("content_hash") != mine.get("content_hash")):
                    # The crash fell between the partner's item and the PROFILE beside it.
                    self._put_profile(
                        _ProfileWrite(self._profile_entry(pid, row, mine, profile, now), profile), row, access
                    )
            else:
                self._reject(row.line, Reject("duplicate_in_file"), first_line=int(mine.get("import_line", 0)))
            return
        if profile is None:
            item = prospects.source_item(pid, self.partner, row.values, now, row.email_hash)
            item.update(provenance, first_import_run=self.run_id)
            self._put(item, row, "inserted", None, _ProfileWrite(self._profile_entry(pid, row, item, None, now), None))
            return
        if mine is not None and mine.get("content_hash") == digest:
            if _age_days(mine.get("last_verified"), now) < REVERIFY_AFTER_DAYS:
                self.counts["unchanged"] += 1
                return
            # The partner confirms what it sent before: only the verification moves. The
            # stored item (with any staff correction) is kept; see `_recheck`.
            item = {"pk": mine["pk"], "sk": mine["sk"], **prospects.verification(now), **provenance}
            self._put(item, row, "reverified", mine, self._verified_profile(pid, profile, now), reverify=True)
            return
        item = prospects.source_item(pid, self.partner, row.values, now, row.email_hash)
        item.update(provenance, first_import_run=self.run_id)
        if holds_values:
            # Newer information from the source whose values the register shows (a staff
            # correction stays only until then, as before).
            shown = _ProfileWrite(self._profile_entry(pid, row, item, profile, now), profile)
        else:
            shown = self._verified_profile(pid, profile, now)
        self._put(item, row, "updated" if mine is not None else "inserted", mine, shown)

    @staticmethod
    def _verified_profile(pid: str, profile: dict[str, Any], now: str) -> _ProfileWrite:
        """A partner verified the prospect: the PROFILE's retention clock restarts (batched)."""
        item = {"pk": prospects.pk(pid), "sk": prospects.PROFILE, **prospects.verification(now)}
        return _ProfileWrite(item, profile, reverify=True)

    def _profile_entry(
        self, pid: str, row: _Row, source: dict[str, Any], profile: dict[str, Any] | None, now: str
    ) -> dict[str, Any]:
        """The PROFILE that shows `source`'s values (the partner's own item) in the register."""
        item = prospects.profile_item(pid, row.values, now, row.email_hash)
        item.update({k: source[k] for k in _PROVENANCE if k in source and k != "source_partner"})
        item["values_from"] = self.partner
        if profile is None:
            item["first_import_run"] = self.run_id
        return item

    def _put_profile(self, write: _ProfileWrite, row: _Row, access: Access) -> None:
        """Queue the PROFILE beside the row's own item (re-checked against what was read, uncounted)."""
        assert self.writer is not None
        self._writing()
        guard = Guard(
            row.line, "", row.email_norm, write.expected, access, "", write.reverify, True, row.values.get("phone")
        )
        self.writer.put(write.item, guard)

    def _put(
        self,
        item: dict[str, Any],
        row: _Row,
        kind: str,
        expected: dict[str, Any] | None,
        profile: _ProfileWrite,
        reverify: bool = False,
    ) -> None:
        """Write the partner's own item, counted and audited, after `profile`."""
        assert self.writer is not None
        self.counts[kind] += 1
        fields = () if reverify else prospects.personal_fields(item)
        action = "create" if kind == "inserted" else "update"
        access = Access(action, prospects.REGISTER, row.prospect_id, fields)
        key = self._row_key(row.line, action)
        self.accesses.append((access, key, False))
        # The PROFILE goes first, so a SOURCE item never exists without it (`_recheck`).
        self._put_profile(profile, row, access)
        phone = row.values.get("phone")
        self.writer.put(item, Guard(row.line, kind, row.email_norm, expected, access, key, reverify, phone=phone))

    def _row_key(self, line: int, action: str) -> str:
        """The deterministic key of a row's event: the same on every delivery of this run."""
        return audit.event_key(self.run_sortable, "import", self.run_id, f"{line:09d}", action)

    def _removal_event(self, access: Access) -> dict[str, Any]:
        """A removal's event, for the removal's own transaction (one removal per prospect and run)."""
        return self.actor.put(access, key=audit.event_key(self.run_sortable, "import", self.run_id, "removal"))

    def _recheck(self, entries: list[Pending]) -> list[Pending]:
        """Just before a batch is sent: the writes that still hold against the table as it is now.

        BatchWriteItem cannot be conditional, so the batch's items (and their PROFILEs) are
        read again, consistently, with the suppression list. A row whose person objected
        meanwhile (``not_imported``), or whose item was deleted, created or changed by staff or
        another run since the chunk was read (``changed_meanwhile``), is dropped and reported,
        never re-created or overwritten; kept attributes (first seen, staff verification,
        legal hold) are taken from the fresh read. The window left is this read to the writes.
        """
        guarded = [e for e in entries if e.guard is not None]
        if not guarded:
            return entries
        objected, erased = suppression.import_blocks(sorted({e.guard.email_norm for e in guarded if e.guard}))
        do_not_call = suppression.suppressed_phones({e.guard.phone for e in guarded if e.guard and e.guard.phone})
        keys: dict[tuple[str, str], None] = {}
        for e in guarded:
            keys[(e.item["pk"], e.item["sk"])] = None
            keys[(e.item["pk"], prospects.PROFILE)] = None
        found = batch_get([{"pk": p, "sk": s} for p, s in keys], None, self.sleep, consistent=True)
        current = {(i["pk"], i["sk"]): i for i in found}
        kept: list[Pending] = []
        profiles_kept: set[str] = set()  # PROFILEs this batch writes before their SOURCE items
        for e in entries:
            guard = e.guard
            if guard is None:
                kept.append(e)
                continue
            sk = str(e.item["sk"])
            cur = current.get((e.item["pk"], sk))
            profile = current.get((e.item["pk"], prospects.PROFILE))
            if guard.email_norm in objected or (guard.phone and guard.phone in do_not_call):
                self._drop(guard, "not_imported")
                continue
            if guard.email_norm in erased:
                self._drop(guard, ERASED_ON_REQUEST)
                continue
            if profile is not None and "restriction" in profile:
                self._drop(guard, restriction.SKIP_REASON)  # restricted meanwhile: left as it is
                continue
            orphan = profile is None and sk != prospects.PROFILE and e.item["pk"] not in profiles_kept
            if not _same_provenance(cur, guard.expected) or orphan:
                self._drop(guard, "changed_meanwhile")
                continue
            if guard.reverify:
                assert cur is not None
                item = {**cur, **e.item}
            else:
                item = dict(e.item)
                for keep in _PROFILE_KEEP if sk == prospects.PROFILE else _SOURCE_KEEP:
                    if cur is not None and keep in cur:
                        item[keep] = cur[keep]
                if sk == prospects.PROFILE:
                    art14.carry(item, cur)  # when obtained, whether informed: never reset by a rewrite
            hold = (cur if cur is not None else profile or {}).get("legal_hold")
            if hold:
                item["legal_hold"] = hold
            else:
                item.pop("legal_hold", None)
            if sk == prospects.PROFILE:
                profiles_kept.add(str(e.item["pk"]))
            kept.append(Pending(item, guard))
        return kept

    def _drop(self, guard: Guard, reason: str) -> None:
        if guard.companion:
            return  # the row's own item decides what the row counts and reports
        self.counts[guard.kind] -= 1
        self._reject(guard.line, Reject(reason))
        self.accesses = [entry for entry in self.accesses if entry[0] is not guard.access]

    def _hand_over_profile(
        self,
        profile: dict[str, Any],
        leaving: dict[str, Any],
        others: list[dict[str, Any]],
        partition: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        """The PROFILE shows the leaving partner's values: show the remaining partner's instead.

        The most recently verified other SOURCE item's values move into the PROFILE and the
        leaving partner's own item goes (one transaction, conditional on both items being as
        read); the retention clock restarts from the latest remaining verification. The
        register's values change, so every recipient in the disclosure log (`partition`, read
        before) but the leaving partner is told which fields (Art. 19), in that transaction.
        Returns the new PROFILE; None (nothing done) if there is no other source or an item
        changed meanwhile.
        """
        sources = [i for i in others if str(i["sk"]).startswith(prospects.SOURCE_PREFIX)]
        if not sources:
            return None
        source = max(sources, key=lambda i: str(i.get("last_verified") or ""))
        verified = max(str(i.get("last_verified") or "") for i in sources)
        verified = max(verified, str(profile.get("staff_verified_at") or ""))
        item = _handed_over_profile(profile, source, verified, clock.iso())
        pid = str(profile["prospect_id"])
        access = Access("update", prospects.REGISTER, pid, prospects.personal_fields(item))
        changed = tuple(k for k in prospects.FIELDS if profile.get(k) != item.get(k))
        change = disclosures.Change("rectified", changed, spare=frozenset({self.partner}))
        notices = disclosures.notices(pid, partition, change, self.actor) if changed else []
        table = settings().prospects_table
        try:
            disclosures.transact(
                [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": store.typed_item(item),
                            "ConditionExpression": "content_hash = :h AND values_from = :p",
                            "ExpressionAttributeValues": store.typed(
                                {":h": profile.get("content_hash", ""), ":p": self.partner}
                            ),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": table,
                            "Key": store.typed({"pk": leaving["pk"], "sk": leaving["sk"]}),
                            "ConditionExpression": "content_hash = :h",
                            "ExpressionAttributeValues": store.typed({":h": leaving.get("content_hash", "")}),
                        }
                    },
                    self._removal_event(access),
                ],
                notices,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return None
        return item

    def _flush_audit(self) -> None:
        """Write the events of the rows written so far, each once, after their items.

        An event's key (run, line, action) is new to this run unless a delivery before this
        one wrote the row before a crash, so events go out 25 a BatchWriteItem, with no
        condition to check. After such a crash (the run's `checkpoint.writing` mark, set before
        a window's first write and cleared by its checkpoint) every event of the first window
        may be recorded already, also one whose row was changed meanwhile and is written
        again: those are written alone, on the condition that the key is not recorded
        (`audit.put_once`), as is the event of a row recognised as this run's own write. So
        none is doubled or rewritten.
        """
        for access, key, recovered in self.accesses:
            item = audit.event(SYSTEM_IMPORT, access, self.run_id, key=key)
            if recovered or self.recovering:
                audit.put_once(item)
            else:
                self.events.put(item)
        self.events.flush()
        self.accesses = []

    # ---- phase 2: removal (full refresh only)

    def remove_missing(self) -> bool:
        """Remove the partner's prospects the full refresh no longer lists; False to continue."""
        if not self.seen:
            self.load_seen()
        cursor = self.checkpoint.get("removal_cursor")
        segment_rows = 0
        while True:
            kwargs: dict[str, Any] = {
                "IndexName": "by_source",
                "KeyConditionExpression": "source_partner = :p",
                "ExpressionAttributeValues": {":p": self.partner},
                "Limit": REMOVAL_PAGE,
            }
            if cursor:
                kwargs["ExclusiveStartKey"] = cursor
            page = store.prospects().query(**kwargs)
            cursor, stopped = page.get("LastEvaluatedKey"), False
            for n, item in enumerate(page["Items"], 1):
                if fingerprint(str(item["prospect_id"])) not in self.seen:
                    self._remove(item)
                segment_rows += 1
                if n < len(page["Items"]) and self._out_of_time(segment_rows):
                    # Time is asked after every item (a removal is a transaction): the next
                    # segment starts after this one, the index's key of it as the cursor.
                    cursor, stopped = {"source_partner": self.partner, "pk": item["pk"], "sk": item["sk"]}, True
                    break
            self._flush_audit()
            checkpoint = {**self.checkpoint, "removal_cursor": cursor, "phase": "removal" if cursor else "finish"}
            self.run.update(checkpoint=checkpoint, counts=dict(self.counts), rejected_by_reason=dict(self.by_reason))
            runs.save_progress(self.run, self.owner)
            if not cursor:
                return True
            if stopped or self._out_of_time(segment_rows):
                return False

    def _remove(self, item: dict[str, Any]) -> None:
        pid = str(item["prospect_id"])
        items = prospects.items_of(pid)
        profile = items[0] if items and items[0]["sk"] == prospects.PROFILE else None
        if any("legal_hold" in i for i in items) or (profile is not None and "restriction" in profile):
            self.counts["held"] += 1  # a legal hold, or a restriction (Art. 18): the import leaves it
            return
        others = [i for i in items if i.get("source_partner") and i.get("source_partner") != self.partner]
        staff = profile is not None and (
            profile.get("created_by") == "staff"
            or str(profile.get("staff_verified_at") or "") >= str(item.get("first_seen") or "~")
        )
        table = settings().prospects_table
        key = store.typed({"pk": item["pk"], "sk": item["sk"]})
        if profile is None or (not others and not staff):
            access = Access("delete", prospects.REGISTER, pid, prospects.personal_fields(profile or item))
            if profile is not None:
                from chalicelib.retention import delete_prospect

                # The outdated contact is erased: every other recipient of the person's data
                # is told (Art. 19); the partner whose own refresh dropped the person is not.
                change = disclosures.Change("erased", spare=frozenset({self.partner}))
                try:
                    delete_prospect(profile, self._removal_event(access), actor=self.actor, change=change)
                except Conflict:
                    self.counts["held"] += 1
                    return
            else:
                self._transact([{"Delete": {"TableName": table, "Key": key}}], access)
            self.counts["removed"] += 1
            return
        shows_mine = profile.get("values_from") == self.partner
        if shows_mine and not staff and self._hand_over_profile(profile, item, others, items) is not None:
            self.counts["kept_other_source"] += 1  # the PROFILE now shows the remaining partner's values
            return
        # The prospect stays (staff or another partner support it); this partner's own item goes,
        # and a PROFILE that showed its values no longer names it as their source.
        access = Access("update", prospects.REGISTER, pid, ())
        writes: list[dict[str, Any]] = [{"Delete": {"TableName": table, "Key": key}}]
        if shows_mine:
            claim = "REMOVE values_from, content_hash, first_import_run, last_import_run, import_line"
            profile_key = store.typed({"pk": profile["pk"], "sk": prospects.PROFILE})
            update = {"TableName": table, "Key": profile_key, "UpdateExpression": claim}
            writes.append({"Update": {**update, "ConditionExpression": "attribute_exists(pk)"}})
        self._transact(writes, access)
        self.counts["kept_staff_verified" if staff else "kept_other_source"] += 1

    def _transact(self, writes: list[dict[str, Any]], access: Access) -> None:
        """The removal's writes and its event, in one transaction."""
        store.client("dynamodb").transact_write_items(TransactItems=[*writes, self._removal_event(access)])


# What the re-check compares: a difference means someone else wrote the item meanwhile.
_WATCHED = (
    "content_hash",
    "staff_verified_at",
    "last_import_run",
    "import_line",
    "source_partner",
    "values_from",
    "created_by",
)
_PROFILE_KEEP = ("first_seen", "staff_verified_at", "created_by", "first_import_run")
_SOURCE_KEEP = ("first_seen", "first_import_run")


def _same_provenance(current: dict[str, Any] | None, expected: dict[str, Any] | None) -> bool:
    if expected is None or current is None:
        return expected is None and current is None
    return all(current.get(k) == expected.get(k) for k in _WATCHED)


# Provenance of the partner whose values a PROFILE or SOURCE item holds.
_PROVENANCE = ("source_partner", "content_hash", "first_import_run", "last_import_run", "import_line")


def _handed_over_profile(profile: dict[str, Any], source: dict[str, Any], verified: str, now: str) -> dict[str, Any]:
    """`profile` with `source`'s values and provenance (staff's and the hold's attributes kept)."""
    values = {k: source[k] for k in prospects.FIELDS if k in source}
    item = prospects.profile_item(str(profile["prospect_id"]), values, verified)
    item.update({k: source[k] for k in _PROVENANCE if k in source and k != "source_partner"})
    item["values_from"] = source["source_partner"]
    for keep in ("first_seen", "staff_verified_at", "created_by", "legal_hold"):
        if keep in profile:
            item[keep] = profile[keep]
    art14.carry(item, profile)
    item["updated_at"] = now
    return item


def _skip(rows: Iterator[tuple[int, dict[str, str]]], count: int) -> Iterator[tuple[int, dict[str, str]]]:
    for _ in range(count):
        if next(rows, None) is None:
            break
    return rows


def _age_days(then: Any, now: str) -> float:
    if not then:
        return float("inf")
    delta = datetime.fromisoformat(now.replace("Z", "+00:00")) - datetime.fromisoformat(
        str(then).replace("Z", "+00:00")
    )
    return delta / timedelta(days=1)
