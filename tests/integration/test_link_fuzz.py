"""The running relay against its own OpenAPI document: fuzzing, route parity, and GET/HEAD never consuming.

Schemathesis (its Python API, driven by Hypothesis here so that the project's fixtures stay
in charge) generates requests from ``/api/v1/openapi.json`` served by a real ``ots server``.
Purely random ids and bodies would only ever meet 400s, so part of every generated case is
aimed at real state: ids of live, ended and never-created shares, the right or a wrong
status token, the right or a wrong auth token, and real envelopes in create bodies (the
policy fields stay generated). Every answer must be a non-5xx, documented status with a
documented content type and a body matching the schema, and the server must stay up.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ots_desktop.core.ids import b64u_encode, new_share_id
from ots_desktop.server.link_api import RelaySettings, build_app
from ots_desktop.server.link_model import DEFAULT_MAX_SIZE
from ots_desktop.server.request_api import add_request_routes
from ots_desktop.server.store_sqlite import SqliteStore
from tests.support.relay import (
    API,
    FOREIGN_TOKEN,
    UNLIMITED,
    RelayClient,
    RelayProcess,
    Reply,
    Share,
    bearer,
    http_session,
    make_share,
    relays,
    run_async,
    start_relay,
    wrong_auth_token,
)

T = TypeVar("T")
MAX_SIZE = "16KiB"
# Requests per generation mode: a few thousand in every run.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 1250, schemathesis.GenerationMode.NEGATIVE: 1250}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
SEED_SHARES = 8
OWNER_ONLY = {("DELETE", f"{API}/{{id}}"), ("GET", f"{API}/{{id}}/status")}


@dataclass
class Known:
    """A share the fuzzer may aim at, with the sender's status token."""

    share: Share
    status_token: str


@dataclass
class Targets:
    """Real state to aim generated requests at; grows as aimed creates succeed."""

    known: list[Known] = field(default_factory=list)
    sent: dict[str, Share] = field(default_factory=dict)  # fresh shares put into create bodies
    unknown_id: str = field(default_factory=lambda: b64u_encode(new_share_id()))

    def ids(self) -> list[str]:
        return [k.share.id for k in self.known] + [self.unknown_id]

    def by_id(self, share_id: str) -> Known | None:
        return next((k for k in self.known if k.share.id == share_id), None)


async def _seed(url: str) -> Targets:
    targets = Targets()
    async with http_session() as session:
        client = RelayClient(session, url)
        shares = [make_share(), make_share(passphrase="correct horse")]
        shares += [make_share() for _ in range(SEED_SHARES - len(shares))]
        for n, share in enumerate(shares):
            policy = {"max_views": 10} if n % 2 else {"allow_cidrs": ["10.0.0.0/8"]} if n == 2 else {}
            created = await client.create(share, **policy)
            assert created.status == 201, created.body
            targets.known.append(Known(share, created.body["status_token"]))
    return targets


@dataclass(frozen=True)
class Aim:
    """Which real state one case is pointed at. Drawn whole, so every example draws the same shape
    (the pools grow as the server's state changes, and Hypothesis insists on a stable shape)."""

    aim: bool
    share: int
    right_auth: bool
    right_owner: bool
    taken_id: bool

    def pick(self, items: list[T]) -> T:
        return items[self.share % len(items)]


AIMS = st.builds(Aim, st.booleans(), st.integers(0, 1 << 16), st.booleans(), st.booleans(), st.booleans())


def _aim(case: schemathesis.Case[Any], aim: Aim, targets: Targets) -> None:
    """Point part of a generated case at real state; the rest of it stays as generated.

    Parts are replaced, never edited in place: the generated objects may be shared with
    the strategy's own state.
    """
    if not aim.aim:
        return
    path, method = case.operation.path, case.operation.method.upper()
    if "id" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "id": aim.pick(targets.ids())}
    known = targets.by_id(case.path_parameters.get("id", ""))
    if path.endswith("/reveal") and isinstance(case.body, dict) and known is not None:
        case.body = {**case.body, "auth_token": known.share.auth_token if aim.right_auth else wrong_auth_token()}
    if (method, path) in OWNER_ONLY:
        token = known.status_token if known and aim.right_owner else FOREIGN_TOKEN
        headers = case.headers.copy() if case.headers is not None else {}
        headers["Authorization"] = bearer(token)["Authorization"]
        case.headers = headers
    if (method, path) == ("POST", API) and isinstance(case.body, dict):
        if aim.taken_id:
            case.body = {**case.body, **aim.pick(targets.known).share.create_body()}
        else:
            fresh = make_share()
            targets.sent[fresh.id] = fresh
            case.body = {**case.body, **fresh.create_body()}


def _fuzz(relay: RelayProcess, targets: Targets) -> tuple[Counter[tuple[str, int]], list[str]]:
    schema = schemathesis.openapi.from_url(f"{relay.url}/api/v1/openapi.json")
    answered: Counter[tuple[str, int]] = Counter()
    failures: dict[str, str] = {}
    session = requests.Session()

    for mode, examples in EXAMPLES.items():

        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=schema.as_strategy(mode), aim=AIMS)
        def exercise(case: schemathesis.Case[Any], aim: Aim) -> None:
            _aim(case, aim, targets)
            try:
                response = case.call_and_validate(session=session, checks=CHECKS)
            except FailureGroup as exc:  # every failed check, with a curl line to reproduce
                kinds = ", ".join(sorted({failure.title for failure in exc.exceptions}))
                failures.setdefault(f"{case.operation.label}: {kinds}", str(exc)[:3000])
                return
            answered[(case.operation.label, response.status_code)] += 1
            sent = case.body.get("id") if isinstance(case.body, dict) else None
            if response.status_code == 201 and sent in targets.sent:
                targets.known.append(Known(targets.sent.pop(str(sent)), response.json()["status_token"]))

        exercise()
    return answered, list(failures.values())


def test_fuzzing_the_openapi_document_finds_no_5xx_and_nothing_undocumented(tmp_path: Path) -> None:
    with relays(tmp_path, extra=(*UNLIMITED, "--max-size", MAX_SIZE)) as (relay,):
        targets = run_async(_seed(relay.url))
        answered, failures = _fuzz(relay, targets)
        assert relay.alive()
        health = requests.get(f"{relay.url}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
    total = sum(answered.values()) + len(failures)
    summary = "\n".join(f"{label} -> {status}: {n}" for (label, status), n in sorted(answered.items()))
    assert not failures, f"{len(failures)} kinds of failure:\n\n" + "\n\n".join(failures)
    assert total >= sum(EXAMPLES.values()), summary
    statuses = {status for _, status in answered}
    # The aimed cases reached deep states, not just 400s.
    assert {200, 201, 400, 401, 403, 404, 409, 410} <= statuses, summary
    log = relay.log_text()
    assert "Traceback" not in log and "internal error" not in log, log[-5000:]


def test_the_checks_catch_an_undocumented_status_and_a_body_off_the_schema(tmp_path: Path) -> None:
    with relays(tmp_path) as (relay,):
        document = run_async(_document(relay.url))
        del document["paths"][f"{API}/{{id}}"]["get"]["responses"]["404"]
        document["components"]["schemas"]["Error"]["required"].append("missing_field")
        schema = schemathesis.openapi.from_dict(document)
        session = requests.Session()
        caught = []
        for path, share_id in ((f"{API}/{{id}}", b64u_encode(new_share_id())), (f"{API}/{{id}}/status", "x")):
            case = schema[path]["GET"].Case(path_parameters={"id": share_id})
            with pytest.raises(FailureGroup) as failed:
                case.call_and_validate(base_url=relay.url, session=session, checks=CHECKS)
            caught += [failure.title for failure in failed.value.exceptions]
    assert "Undocumented status code" in caught
    assert "Response violates schema" in caught, caught


# ---------------------------------------------------------------- hostile bodies the generator does not make

DEEP = 20_000  # nesting depth; the bodies stay well under the relay's size limit
HOSTILE = {
    "empty": b"",
    "null": b"null",
    "a list": b"[]",
    "a string": b'"x"',
    "invalid UTF-8": b'{"id": "\xff"}',
    "NaN": b'{"expires_in": NaN, "max_views": Infinity}',
    "a 5000-digit integer": b'{"max_views": ' + b"9" * 5000 + b"}",
    "duplicate keys": b'{"auth_token": "a", "auth_token": "b"}',
    "deep array": b"[" * DEEP,
    "deep object": b'{"a":' * (DEEP // 5) + b"1" + b"}" * (DEEP // 5),
    "oversized": b'{"envelope": "' + b"A" * 40_000 + b'"}',
}
CASES = [pytest.param(name, op) for name in HOSTILE for op in ("create", "reveal")]


async def _post_raw(url: str, path: str, body: bytes) -> Reply:
    async with http_session() as session, session.post(url + path, data=body,
                                                       headers={"Content-Type": "application/json"}) as response:
        raw = await response.read()
        return Reply(response.status, raw.decode("utf-8", "replace"), dict(response.headers))


@pytest.fixture(scope="module")
def hostile_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RelayProcess, Share, dict[str, Any]]]:
    """One relay for all the hostile bodies (it only touches its data dir), with one live share."""
    root = tmp_path_factory.mktemp("hostile")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTS_")}
    env |= {"HOME": str(root / "home"), "OTS_HOME": str(root / "ots")}
    relay = start_relay(root, extra=(*UNLIMITED, "--max-size", MAX_SIZE), env=env)
    try:
        share = make_share()
        run_async(_create_one(relay.url, share))
        yield relay, share, run_async(_document(relay.url))
    finally:
        relay.stop()


@pytest.mark.parametrize(("name", "operation"), CASES)
def test_hostile_bodies_get_a_documented_4xx(hostile_target: tuple[RelayProcess, Share, dict[str, Any]],
                                             name: str, operation: str) -> None:
    relay, share, document = hostile_target
    path = API if operation == "create" else f"{API}/{{id}}/reveal"
    logged = len(relay.log_text())
    reply = run_async(_post_raw(relay.url, path.replace("{id}", share.id), HOSTILE[name]))
    assert relay.alive()
    new_log = relay.log_text()[logged:]
    documented = set(document["paths"][path]["post"]["responses"])
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert str(reply.status) in documented, f"{reply.status} is not documented for {path}: {reply.body}"
    assert reply.headers["Content-Type"].startswith("application/json")
    assert {"error", "code"} <= set(json.loads(reply.body)), reply.body
    assert "Traceback" not in new_log, new_log


async def _create_one(url: str, share: Share) -> None:
    async with http_session() as session:
        created = await RelayClient(session, url).create(share)
    assert created.status == 201, created.body


# ---------------------------------------------------------------- the document and the router agree

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PLAINTEXT = b"bots must not eat this"


async def _document(url: str) -> dict[str, Any]:
    async with http_session() as session:
        reply = await RelayClient(session, url).request("GET", "/api/v1/openapi.json")
    assert reply.status == 200, reply.body
    document: dict[str, Any] = reply.body
    return document


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item
            if method in HTTP_METHODS}


async def _router_routes(path: Path) -> set[tuple[str, str]]:
    from ots_desktop.server.request_store_sqlite import SqliteRequestStore, requests_path

    store = await SqliteStore.open(path)
    requests = await SqliteRequestStore.open_file(requests_path(path))
    try:
        app = build_app(store, RelaySettings(public_url="http://relay.test", max_size=DEFAULT_MAX_SIZE))
        add_request_routes(app, requests)
        return {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    finally:
        await requests.close()
        await store.close()


async def _hit_every_route(url: str, routes: set[tuple[str, str]], value: str) -> dict[tuple[str, str], Reply]:
    """One request per route, every path parameter set to ``value``."""
    async with http_session() as session:
        client = RelayClient(session, url)
        return {(method, path): await client.request(method, re.sub(r"\{[^}]+\}", value, path))
                for method, path in sorted(routes)}


def test_every_documented_route_is_served(tmp_path: Path) -> None:
    served = run_async(_router_routes(tmp_path / "router.sqlite3"))
    with relays(tmp_path) as (relay,):
        document = run_async(_document(relay.url))
        documented = _documented(document)
        live = run_async(_hit_every_route(relay.url, documented, b64u_encode(new_share_id())))
        logged = relay.log_text()
        control = run_async(_hit_every_route(relay.url, {("GET", "/api/v1/nothing"), ("PUT", API)}, "x"))
        assert sorted(reply.status for reply in control.values()) == [404, 405], control
        control_log = relay.log_text()[len(logged):]
    assert documented <= served
    assert document["servers"] == [{"url": relay.url}]
    assert all(reply.status < 500 for reply in live.values()), live
    # The access log names the route template that answered, or "unmatched" when the router found none.
    unrouted = [f"{method} {path}" for method, path in documented if f" {method} {path} " not in logged]
    assert unrouted == [], unrouted
    assert control_log.count(" unmatched 40") == 2, control_log


def test_every_served_route_is_documented(tmp_path: Path) -> None:
    served = run_async(_router_routes(tmp_path / "router.sqlite3"))
    with relays(tmp_path) as (relay,):
        documented = _documented(run_async(_document(relay.url)))
    # aiohttp adds a HEAD route next to every GET route; the document lists the GETs.
    assert {path for method, path in served if method == "HEAD"} == {p for m, p in documented if m == "GET"}
    assert {route for route in served if route[0] != "HEAD"} == documented


async def _bot_visits(url: str, share: Share) -> None:
    document = await _document(url)
    async with http_session() as session:
        client = RelayClient(session, url)
        created = await client.create(share)
        assert created.status == 201, created.body
        owner = bearer(created.body["status_token"])
        # A link preview bot, a mail scanner and a crawler: GET and HEAD every path, with and without a token.
        for path in document["paths"]:
            for method in ("GET", "HEAD"):
                for headers in ({}, owner):
                    for _ in range(3):
                        reply = await client.request(method, path.replace("{id}", share.id), headers=headers)
                        assert reply.status < 500, (method, path, reply)
        page = await client.request("GET", f"/s/{share.id}")
        assert page.status == 200 and "text/html" in page.headers["Content-Type"]
        meta = await client.meta(share.id)
        assert meta.status == 200 and meta.body["state"] == "pending" and meta.body["views_left"] == 1, meta
        status = await client.status(share.id, created.body["status_token"])
        assert status.body["reveals"] == [] and status.body["views_left"] == 1, status
        first = await client.reveal(share)
        assert first.status == 200, first.body
        assert share.open(first.body["envelope"]) == PLAINTEXT
        again = await client.reveal(share)
        assert again.status == 410 and again.body["state"] == "revealed", again.body
        head = await client.request("HEAD", f"{API}/{share.id}")
        assert head.status == 410


def test_get_and_head_on_every_path_never_consume_a_link(tmp_path: Path) -> None:
    with relays(tmp_path) as (relay,):
        run_async(_bot_visits(relay.url, make_share(PLAINTEXT)))
        assert relay.alive()
