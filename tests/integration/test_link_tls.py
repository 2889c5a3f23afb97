"""TLS on the link relay: ``ots server --tls-cert/--tls-key``, ``--ca-file`` and refusing plain http.

A throwaway CA and server certificate are generated into the test's tmp directory;
the relay and the ``ots`` CLI run as real processes.
"""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ots_desktop.core.errors import ExitCode
from ots_desktop.core.ids import b64u_encode, new_share_id
from tests.conftest import CANARY, Home
from tests.integration.test_link_cli import Links
from tests.support.cli import run_ots
from tests.support.servers import RunningServer, server_argv, start_ots_server
from tests.support.tls import ThrowawayPKI, make_pki

REFUSAL = "on plain HTTP anyone on the path can read the key or swap the page"


@pytest.fixture
def pki(tmp_path: Path) -> ThrowawayPKI:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_server(isolated_home: Home, pki: ThrowawayPKI) -> Iterator[RunningServer]:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0",
                              "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    yield server
    server.stop()


@pytest.fixture
def tls_links(isolated_home: Home, tls_server: RunningServer) -> Iterator[Links]:
    tool = Links(isolated_home.root, tls_server)
    yield tool
    tool.close()


def test_ready_line_names_https_urls(tls_server: RunningServer) -> None:
    assert tls_server.ready["link_url"].startswith("https://127.0.0.1:")
    assert tls_server.ready["public_url"] == tls_server.ready["link_url"]


def test_every_https_answer_carries_hsts(tls_server: RunningServer, pki: ThrowawayPKI) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    assert tls_server.link_url
    for path in ("/healthz", "/no-such-page"):
        request = urllib.request.Request(tls_server.link_url + path)
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                headers = answer.headers
        except urllib.error.HTTPError as exc:
            headers = exc.headers
        assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_plain_http_answers_have_no_hsts(isolated_home: Home) -> None:
    server = start_ots_server(isolated_home.root, "--no-wormhole")
    try:
        assert server.link_url and server.link_url.startswith("http://")
        with urllib.request.urlopen(server.link_url + "/healthz", timeout=30) as answer:
            assert "Strict-Transport-Security" not in answer.headers
    finally:
        server.stop()


@pytest.mark.usefixtures("keychain")
def test_link_over_https_with_the_ca_file(tls_links: Links, pki: ThrowawayPKI) -> None:
    ca = ["--ca-file", str(pki.ca_cert)]
    [sent] = tls_links.send(CANARY, *ca)
    assert sent["link"].startswith("https://127.0.0.1:")
    received = tls_links.receive(sent["link"], *ca)
    assert received.returncode == 0, received
    assert received.stdout.encode() == CANARY
    status = tls_links.ots("link", "status", sent["id"], "--json", *ca, side=tls_links.sender)
    assert status.returncode == 0, status
    assert status.lines()[-1]["state"] == "revealed"


@pytest.mark.usefixtures("keychain")
def test_ca_file_from_the_environment(tls_links: Links, pki: ThrowawayPKI) -> None:
    env = {"OTS_CA_FILE": str(pki.ca_cert)}
    [sent] = tls_links.send(CANARY, env=env)
    received = tls_links.receive(sent["link"], env=env)
    assert received.returncode == 0, received
    assert received.stdout.encode() == CANARY


@pytest.mark.usefixtures("keychain")
def test_untrusted_certificate_is_a_clear_error(tls_links: Links, pki: ThrowawayPKI) -> None:
    result = tls_links.ots("send", "--via", "link", "--json", side=tls_links.sender, stdin=CANARY)
    assert result.returncode == ExitCode.SERVER_UNREACHABLE, result
    assert f"the link relay is unreachable at {tls_links.relay}" in result.stderr
    assert "certificate" in result.stderr
    assert "Traceback" not in result.stderr
    [sent] = tls_links.send(CANARY, "--ca-file", str(pki.ca_cert))
    refused = tls_links.receive(sent["link"])
    assert refused.returncode == ExitCode.SERVER_UNREACHABLE, refused
    assert "certificate" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_plain_http_relay_elsewhere_is_refused(isolated_home: Home) -> None:
    # 192.0.2.0/24 is TEST-NET-1: nothing answers there, so only a refusal before connecting passes quickly.
    result = run_ots("send", "--via", "link", "--relay", "http://192.0.2.1:8080", stdin=b"x", timeout=30)
    assert result.returncode == ExitCode.INPUT, result
    assert REFUSAL in result.stderr
    assert "Traceback" not in result.stderr
    key = b64u_encode(bytes(range(32)))
    link = f"http://192.0.2.1:8080/s/{b64u_encode(new_share_id())}#{key}"
    received = run_ots("receive", link, timeout=30)
    assert received.returncode == ExitCode.INPUT, received
    assert REFUSAL in received.stderr
    assert key not in received.stderr


@pytest.mark.parametrize("host", ["localhost", "127.0.0.5", "[::1]"])
def test_plain_http_to_loopback_is_allowed(host: str) -> None:
    from ots_desktop.channels.link_urls import require_secure

    assert require_secure(f"http://{host}:4080") == f"http://{host}:4080"


def _server_fails(tmp: Path, *args: str) -> str:
    result = run_ots(*server_argv(tmp / "server", "--no-wormhole", *args)[3:], timeout=30)
    assert result.returncode == ExitCode.USAGE, result
    assert "Traceback" not in result.stderr
    return result.stderr


def test_bad_tls_options_are_clear_errors(isolated_home: Home, pki: ThrowawayPKI) -> None:
    tmp = isolated_home.root
    assert "--tls-cert and --tls-key go together" in _server_fails(tmp, "--tls-cert", str(pki.server_cert))
    assert "--tls-cert and --tls-key go together" in _server_fails(tmp, "--tls-key", str(pki.server_key))
    missing = tmp / "missing.pem"
    stderr = _server_fails(tmp, "--tls-cert", str(missing), "--tls-key", str(pki.server_key))
    assert "--tls-cert" in stderr and "does not exist" in stderr
    unreadable = tmp / "unreadable.pem"
    unreadable.write_bytes(pki.server_key.read_bytes())
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        stderr = _server_fails(tmp, "--tls-cert", str(pki.server_cert), "--tls-key", str(unreadable))
        assert "--tls-key" in stderr and "cannot be read" in stderr
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    stderr = _server_fails(tmp, "--tls-cert", str(garbage), "--tls-key", str(pki.server_key))
    assert "--tls-cert" in stderr and str(garbage) in stderr
    stderr = _server_fails(tmp, "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.other_key))
    assert "--tls-key" in stderr and "is not the private key of the certificate" in stderr
