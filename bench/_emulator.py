"""The emulator the benchmarks run against: moto's server in a process of its own, so the
benchmark's memory figures are the job's and its SDK client's, not the emulator's, with data
loaded straight into its tables (not through its HTTP API: 400,000 items load in seconds).

moto has costs DynamoDB does not, which would make a run at the issues' sizes last hours or
days; each is switched off here with no effect on what is measured, and said in the
benchmark's docs: its model-driven response serializer (`plain_json_responses`), its
transaction rollback copy (`no_transaction_backup`), and its walk and re-sort of the whole
table for every page of an index Query or a Scan (`index_pages_from_a_sorted_view`,
`scan_pages_from_a_sorted_view`).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3

REGION = "eu-north-1"


def prepare_environment() -> None:
    """Fake credentials and the EU region for every client; no real profile or endpoint."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)


def data_provider(partner_id: str) -> dict[str, Any]:
    """A registered, active data provider whose notice delivery is recorded: its uploads import."""
    from chalicelib import clock, notice

    return {
        "partner_id": partner_id,
        "name": "Bench Oy",
        "kind": "data_provider",
        "contact": {"email": "info@bench.example.com"},
        "country": "FI",
        "notice_delivered_at": clock.local_date().isoformat(),
        "notice_version": notice.version(),
    }


def email(i: int) -> str:
    """The i-th bench person's address (5,000 organisations)."""
    return f"henkilo{i}@organisaatio{i % 5000}.fi"


@contextmanager
def no_transaction_backup() -> Iterator[None]:
    """moto's TransactWriteItems without its per-item deep copy of each table (see above)."""
    import copy

    from moto.dynamodb import models

    real = copy.deepcopy

    class _NoTableCopy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, models.Table) else real(value, memo)

    original = models.copy
    models.copy = _NoTableCopy  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = original


# The sorted range keys of each partition a Query has read: (table, hash key) -> (size, keys,
# position of each key's value). Keys, not items: an update replaces the Item object, so the
# items are looked up afresh for every page.
_partition_orders: dict[tuple[str, Any], tuple[int, list[Any], dict[Any, int]]] = {}


def _partition_query(table: Any, hash_key: Any, original: Any, args: Any, kwargs: Any) -> Any:
    """moto's own Query of one partition, its `all_items()` (every item of the table, sorted,
    for every page: quadratic for a job that pages through a large partition) narrowed to the
    partition's items from the page's start key on, already in key order (the key order is
    sorted once per partition size), which moto then filters, sorts and pages as before."""
    partition = table.items.get(hash_key, {})
    order = _partition_orders.get((table.name, hash_key))
    if order is None or order[0] != len(partition):
        keys = sorted(partition)
        order = _partition_orders[(table.name, hash_key)] = (len(keys), keys, {k.value: n for n, k in enumerate(keys)})
    _, keys, positions = order
    start = 0
    names = ("hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward")
    given = {**dict(zip(names, args, strict=False)), **kwargs}
    start_key = given.get("exclusive_start_key")
    if start_key and given.get("scan_index_forward", True) is not False:
        start = positions.get(next(iter(start_key[table.range_key_attr].values())), -1) + 1
    window = [partition[k] for k in keys[start:] if k in partition]
    table.all_items = lambda: window  # an instance attribute shadows the method for this call
    try:
        return original(table, *args, **kwargs)
    finally:
        del table.all_items


@contextmanager
def index_pages_from_a_sorted_view() -> Iterator[None]:
    """moto's index Query without walking and re-sorting the whole table for every page.

    moto serves each page of a GSI Query by filtering and sorting every item of the table,
    then skipping to the page's start: a job that reads an index page by page is quadratic
    there (a day for 200,000 prospects), linear in DynamoDB. Here an index's sorted view is
    built once per table size and each page is sliced from it with moto's own page rules
    (Limit, the 1 MB page, LastEvaluatedKey, projection, filter). Only a plain key-equality
    Query on an index with a sort key takes this path. A Query of the table itself (one
    partition) is moto's own, except that it sees only that partition's items where moto
    would sort the whole table first (`_partition_query`); anything else is moto's own. The
    run's cross-checks (the job's members equal the Scan's audience; the messages sent equal
    the recipients less the suppressed) would catch a page served wrong.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query
    views: dict[tuple[Any, ...], tuple[int, list[Any], dict[tuple[str, str], int]]] = {}

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = (
            "hash_key",
            "range_comparison",
            "range_objs",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "projection_expressions",
            "index_name",
            "consistent_read",
            "filter_expression",
            "hash_key_conditions",
            "range_key_conditions",
        )
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        index_name = given.get("index_name")
        conditions = given.get("hash_key_conditions")
        extra = set(given) - set(names)
        index = self.get_index(index_name) if index_name else None
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
        if not index_name and given.get("hash_key") is not None and self.range_key_attr and not extra:
            return _partition_query(self, given["hash_key"], original, args, kwargs)
        if (
            not index_name
            or not conditions
            or given.get("range_comparison")
            or given.get("range_key_conditions")
            or extra
            or not range_keys
            or not self.range_key_attr
        ):
            return original(self, *args, **kwargs)
        size = sum(len(partition) for partition in self.items.values())
        forward = given.get("scan_index_forward", True) is not False
        view_key = (self.name, index_name, tuple((n, repr(v)) for n, v in conditions), forward)
        view = views.get(view_key)
        if view is None or view[0] != size:
            hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            matching = [
                item
                for item in self.all_items()
                if all(n in item.attrs and item.attrs[n] == v for n, v in conditions)
                and all(item.attrs.get(r) for r in range_keys)
            ]
            ordered = self.sorted_items([*hash_keys, self.hash_key_attr], [*range_keys, self.range_key_attr], matching)
            if not forward:
                ordered.reverse()
            positions = {(i.hash_key.value, i.range_key.value): n for n, i in enumerate(ordered)}
            view = views[view_key] = (size, ordered, positions)
        _, ordered, positions = view
        return _page_of(self, ordered, positions, given, index)

    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original  # type: ignore[method-assign]


def _page_of(table: Any, ordered: list[Any], positions: dict[Any, int], given: dict[str, Any], index: Any) -> Any:
    """One page of a Query or Scan sliced from a sorted view, by moto's own page rules: the
    exclusive start key, Limit, the 1 MB page, LastEvaluatedKey, projection and filter."""
    import copy

    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    start_key = given.get("exclusive_start_key")
    start = 0
    if start_key:
        start = positions[(start_key[table.hash_key_attr]["S"], start_key[table.range_key_attr]["S"])] + 1
    limit = given.get("limit")
    page: list[Any] = []
    page_size = 0
    last_key = None
    for n in range(start, len(ordered)):
        item = ordered[n]
        if len(page) == limit or page_size + item.size() > RESULT_SIZE_LIMIT:
            last_key = table._get_last_evaluated_key(page[-1], index.name if index else None)
            break
        page.append(item)
        page_size += item.size()
    scanned = len(page)
    results = [index.project(r) if index else r for r in copy.deepcopy(page)]
    if given.get("filter_expression") is not None:
        results = [r for r in results if given["filter_expression"].expr(r)]
    projection = given.get("projection_expressions") or given.get("projection_expression")
    if projection:
        results = [r.project(projection) for r in results]
    return results, scanned, last_key


@contextmanager
def scan_pages_from_a_sorted_view() -> Iterator[None]:
    """moto's table Scan without re-sorting the whole table and walking it to the start key
    for every page (moto 5.2 `Table.scan` via `all_items`): the baseline's Scan of 400,000
    items would be quadratic there, linear in DynamoDB. As for index pages above, the sorted
    view is built once per table size and pages are sliced from it by moto's page rules.
    Only a plain Scan of the table (no index, segment or legacy ScanFilter) takes this path."""
    from moto.dynamodb.models.table import Table

    original = Table.scan
    views: dict[str, tuple[int, list[Any], dict[tuple[str, str], int]]] = {}

    def scan(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = (
            "filters",
            "limit",
            "exclusive_start_key",
            "filter_expression",
            "index_name",
            "consistent_read",
            "projection_expression",
            "segments",
        )
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        plain = (
            not given.get("filters")
            and not given.get("index_name")
            and tuple(given.get("segments") or (None, None)) == (None, None)
            and not set(given) - set(names)
            and self.range_key_attr
        )
        if not plain:
            return original(self, *args, **kwargs)
        size = sum(len(partition) for partition in self.items.values())
        view = views.get(self.name)
        if view is None or view[0] != size:
            ordered = self.all_items()
            positions = {(i.hash_key.value, i.range_key.value): n for n, i in enumerate(ordered)}
            view = views[self.name] = (size, ordered, positions)
        _, ordered, positions = view
        return _page_of(self, ordered, positions, given, None)

    Table.scan = scan  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.scan = original  # type: ignore[method-assign]


# The item reads and writes (their results are typed items and counts only).
_PLAIN_JSON_ACTIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "BatchWriteItem"})


@contextmanager
def plain_json_responses() -> Iterator[None]:
    """moto's DynamoDB answers as plain JSON (its typed result dumped as is), not through its
    model-driven serializer, which costs about 8 ms per item returned (moto 5.2): a 200,000-
    prospect Scan would spend its hour there. Errors still go through the serializer."""
    import json

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in _PLAIN_JSON_ACTIONS:
            return 200, {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}, json.dumps(result)
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.serialized = original  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int, env: dict[str, str], loader: Callable[..., Any], commands: Any) -> None:
    """The emulator process: moto's server with the changes above, loading data when asked."""
    import logging

    from moto.server import ThreadedMotoServer

    from chalicelib import store

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    os.environ.update(env)
    with (
        plain_json_responses(),
        no_transaction_backup(),
        index_pages_from_a_sorted_view(),
        scan_pages_from_a_sorted_view(),
    ):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        commands.send("ready")
        while True:
            command = commands.recv()
            if command[0] != "load":
                server.stop()
                return
            _, app_env, tables, args = command
            os.environ.update(app_env)
            store.reset()
            commands.send(loader(tables, *args))


class Emulator:
    """One provisioned stack in a fresh emulator process, for `with`: the app's clients point at
    it while inside. `loader(tables, *args)` runs in the emulator's process (see `load`)."""

    def __init__(self, name: str, loader: Callable[..., Any], settings: dict[str, str] | None = None) -> None:
        self.name, self.loader, self.settings = name, loader, settings or {}
        self.app_env: dict[str, str] = {}
        self.tables: dict[str, str] = {}

    def __enter__(self) -> Emulator:
        from chalicelib import store
        from devstack import provision

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        self._commands, theirs = multiprocessing.Pipe()
        env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
        env["AWS_REGION"] = REGION
        context = multiprocessing.get_context("fork")
        self._process = context.Process(target=_serve, args=(port, env, self.loader, theirs), daemon=True)
        self._process.start()
        assert self._commands.recv() == "ready"
        info = provision.provision(boto3.session.Session(), self.name, REGION, endpoint_url=url)
        info["aws_endpoint_url"] = url
        self.app_env = provision.app_environment(info, stage="bench") | self.settings
        self.tables = info["tables"]
        os.environ.update(self.app_env)
        store.reset()
        return self

    def load(self, *args: Any) -> tuple[Any, float]:
        """Run the loader in the emulator's process; its answer and the seconds it took."""
        t0 = time.perf_counter()
        self._commands.send(("load", self.app_env, self.tables, args))
        while not self._commands.poll(5):
            assert self._process.is_alive(), "the emulator process died while loading"
        return self._commands.recv(), time.perf_counter() - t0

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        from chalicelib import store

        self._commands.send(("stop",))
        self._process.join(30)
        for var in set(self.app_env) - {"AWS_DEFAULT_REGION", "AWS_REGION"}:
            os.environ.pop(var, None)
        store.reset()
