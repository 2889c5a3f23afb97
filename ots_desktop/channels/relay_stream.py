"""Streamed envelopes on the relay's binary endpoints (docs/link-api.md, "Large envelopes").

``PUT /api/v1/secrets/{id}`` parks an envelope sent as ``application/octet-stream`` with
the share's policy in ``X-Ots-*`` headers, and a reveal that asks for
``application/octet-stream`` gets the envelope's bytes as they are, with the views left in
``X-Ots-Views-Left``. Neither side holds the envelope whole. Small envelopes keep going as
JSON (``STREAM_FROM``), which every relay takes, older ones included; a relay that answers
a reveal with JSON (one that predates streaming) is handled as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import TypeVar

import aiohttp

from ots_desktop.channels import link_errors as errors
from ots_desktop.channels.link_urls import check_share_id
from ots_desktop.channels.relay_answers import parse_answer
from ots_desktop.channels.relay_client import API, MAX_ANSWER_BYTES, Created, RelayClient, Revealed, transport_failure
from ots_desktop.core.ids import b64u_encode
from ots_desktop.core.secret import SecretBuffer

T = TypeVar("T")

STREAM_TYPE = "application/octet-stream"
# Envelopes up to this size travel as JSON, which relays of every version take; larger ones are streamed.
STREAM_FROM = 1024 * 1024
VIEWS_LEFT = "X-Ots-Views-Left"
# How much of a streamed reveal may wait in the client's buffer (aiohttp stops reading the socket at twice
# this) while the opening thread works on one chunk.
READ_BUFFER = 1024 * 1024
# Reads one piece of the envelope; b"" at its end.
Read = Callable[[], Awaitable[bytes]]


async def create_stream(relay: RelayClient, share_id: str, pieces: AsyncIterable[bytes], size: int,
                        auth_hash: str, *, expires_in: int, max_views: int, allow_cidrs: Sequence[str] = (),
                        link_hash: str | None = None, allow_countries: Sequence[str] = ()) -> Created:
    """Park an envelope of exactly ``size`` bytes, sent as it is sealed; the answer is that of a create."""
    check_share_id(share_id)
    headers = {"Content-Type": STREAM_TYPE, "Content-Length": str(size), "X-Ots-Auth-Hash": auth_hash,
               "X-Ots-Expires-In": str(expires_in), "X-Ots-Max-Views": str(max_views)}
    if link_hash is not None:
        headers["X-Ots-Link-Hash"] = link_hash
    if allow_cidrs:
        headers["X-Ots-Allow-Cidrs"] = ",".join(allow_cidrs)
    if allow_countries:
        headers["X-Ots-Allow-Countries"] = ",".join(allow_countries)
    token = relay.create_token()
    status, answer, answer_headers = await relay._call("PUT", f"{API}/{share_id}", data=pieces, headers=headers,
                                                       bearer=token, plain_refusal=True)
    del token
    # 405, or (older aiohttp servers, refusing the 100-continue request itself) a plain 400, 404 or 501:
    # a relay without the streamed upload.
    if status == 405 or (status in (400, 404, 501) and not answer.body):
        raise errors.no_streaming(relay.url)
    return relay.check_created(status, answer, answer_headers, share_id)


async def reveal_stream(relay: RelayClient, share_id: str, auth_token: SecretBuffer, *, needs_passphrase: bool,
                        link_proof: SecretBuffer | None,
                        consume: Callable[[int, int, Read], Awaitable[T]]) -> T | Revealed:
    """Consume one view, asking for the envelope as a stream.

    A streamed answer goes to ``consume(length, views_left, read)`` while it arrives and its
    result is returned; a relay that answers in JSON gives a :class:`Revealed` as before.
    Failures are those of :meth:`RelayClient.reveal`.
    """
    check_share_id(share_id)
    body = {"auth_token": b64u_encode(auth_token)}
    if link_proof is not None:
        body["link_proof"] = b64u_encode(link_proof)
    headers = {"Accept": f"{STREAM_TYPE}, application/json;q=0.5"}
    try:
        async with relay._http().post(f"{relay.base_url}{API}/{share_id}/reveal", json=body, headers=headers,
                                      allow_redirects=False, read_bufsize=READ_BUFFER) as response:
            status = response.status
            length, views = response.content_length, response.headers.get(VIEWS_LEFT, "")
            if status == 200 and response.content_type == STREAM_TYPE:
                if length is None or not views.isdigit():
                    raise errors.bad_answer(relay.url, "a streamed envelope without its length or views left")
                return await consume(length, int(views), _pieces_of(response.content))
            raw = await _bounded(response, relay.url)
            answer_headers = dict(response.headers)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_failure(relay.url, exc) from None
    answer = parse_answer(relay.url, status, raw)
    relay.check_reveal(status, answer, answer_headers, share_id, needs_passphrase=needs_passphrase)
    return Revealed(answer.b64u("envelope"), answer.count("views_left"))


def _pieces_of(content: aiohttp.StreamReader) -> Read:
    """Hands over the body as the socket delivered it, one received piece at a time: ``readany`` would join
    whatever gathered into a new ``bytes``, a copy of most of the envelope (about 0.15 s of CPU per GiB)."""

    async def piece() -> bytes:
        while True:
            data, boundary = await content.readchunk()
            if data or not boundary:
                return data
    return piece


async def _bounded(response: aiohttp.ClientResponse, url: str) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise errors.bad_answer(url, "the answer is too large")
        chunks.append(chunk)
    return b"".join(chunks)
