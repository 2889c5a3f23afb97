"""The answer page's own sealing code, run in Chromium against the committed request vectors: its request
proof is the one the vectors give, and what it seals opens in Python with the request's private key (and
passes the relay's check), for a text, a file of several chunks and an empty secret; it opens the sealed label
vectors and reads every altered label box as unreadable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from ots_desktop.core.ids import b64u_decode
from ots_desktop.core.request_box import check_answer, open_answer
from ots_desktop.core.secret import SecretBuffer
from tests.browser.support import WAIT_MS, wait_state
from tests.support.servers import RunningServer

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "request-v1.json").read_text("ascii"))


@pytest.fixture
def loaded(page: Page, relay_server: RunningServer) -> Page:
    """The answer page (on a link without a key: it says so, and its functions are there to call)."""
    page.goto(f"{relay_server.link_url}/r/AAAAAAAAAAAAAAAAAAAAAA", wait_until="domcontentloaded", timeout=WAIT_MS)
    wait_state(page, "damaged")
    return page


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_page_seals_what_python_opens(loaded: Page, vector: dict[str, Any]) -> None:
    result = loaded.evaluate("""async (v) => {
        const A = globalThis.OtsAnswer;
        const fragment = A.b64uDecode(v.fragment), id = A.b64uDecode(v.request_id_b64u);
        const plain = new Uint8Array(v.plaintext_hex.match(/../g) || []).map((_, i) =>
            parseInt(v.plaintext_hex.substr(2 * i, 2), 16));
        const proof = await A.requestProof(fragment, id);
        const sealed = await A.sealAnswer(plain, id, fragment.slice(0, 32), v.meta);
        return {proof: A.b64uEncode(proof), answer: A.b64uEncode(sealed)};
    }""", vector)
    assert hashlib.sha256(b64u_decode(result["proof"])).hexdigest() == vector["request_proof_sha256_hex"]
    answer = b64u_decode(result["answer"])
    check_answer(answer, vector["key_hash_hex"])
    private = SecretBuffer(bytes.fromhex(vector["request_private_hex"]))
    with open_answer(answer, request_id=b64u_decode(vector["request_id_b64u"]), private_key=private) as opened:
        assert bytes(opened.plaintext.view()).hex() == vector["plaintext_hex"]
        assert opened.meta == vector["meta"]


def test_the_page_opens_the_label_vectors_and_refuses_the_altered_ones(loaded: Page) -> None:
    result = loaded.evaluate("""async (doc) => {
        const A = globalThis.OtsAnswer;
        const open = (v, box) => A.openLabel(A.b64uDecode(v.fragment), A.b64uDecode(v.request_id_b64u), box);
        const base = doc.labels[0];
        return {
            labels: await Promise.all(doc.labels.map((v) => open(v, v.label_box))),
            invalid: await Promise.all(doc.invalid_labels.map((c) => open(base, c.label_box))),
            none: await open(base, ""),
        };
    }""", {"labels": VECTORS["labels"], "invalid_labels": VECTORS["invalid_labels"]})
    assert result["labels"] == [v["label"] for v in VECTORS["labels"]]
    assert result["invalid"] == ["(the description could not be read)"] * len(VECTORS["invalid_labels"])
    assert result["none"] == ""
