"""The one place every limit lives: each check answers with the project's own input error and a sentence."""

from __future__ import annotations

import pytest

from ots_desktop.core import policy
from ots_desktop.core.audit.events import AuditEvent, EventType
from ots_desktop.core.config import Config
from ots_desktop.core.errors import ConfigError, InputError
from ots_desktop.core.policy import LinkPolicy, check_note, parse_recipients


def test_link_limits_are_checked_at_both_edges() -> None:
    assert LinkPolicy(policy.LINK_MIN_EXPIRY_S, policy.LINK_MAX_VIEWS).checked().max_views == 10
    assert LinkPolicy(policy.LINK_MAX_EXPIRY_S, policy.LINK_MIN_VIEWS).checked().expires_in == 30 * 86400
    for bad in (LinkPolicy(policy.LINK_MIN_EXPIRY_S - 1), LinkPolicy(policy.LINK_MAX_EXPIRY_S + 1),
                LinkPolicy(max_views=0), LinkPolicy(max_views=11), LinkPolicy(allow_cidrs=("10.0.0.0/8",) * 33),
                LinkPolicy(allow_cidrs=("10.0.0.300",))):
        with pytest.raises(InputError) as info:
            bad.checked()
        assert info.value.message.strip() and "Traceback" not in info.value.message
    assert LinkPolicy(allow_cidrs=(" 10.1.2.3/8",)).checked().allow_cidrs == ("10.0.0.0/8",)


def test_config_uses_the_same_limits() -> None:
    assert (Config().code_length, Config().link_expiry_s, Config().link_max_views) == (
        policy.CODE_DEFAULT_WORDS, policy.LINK_DEFAULT_EXPIRY_S, policy.LINK_DEFAULT_VIEWS)
    with pytest.raises(ConfigError, match="link_max_views must be 1 to 10"):
        Config(link_max_views=policy.LINK_MAX_VIEWS + 1).validate()


@pytest.mark.parametrize(("value", "words"), [("x" * 201, r"longer than 200 characters \(201\)"),
                                               ("two\nlines", "control character"), ("bell\x07", "control")])
def test_audit_notes_are_refused_with_a_sentence(value: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_note(value, "label")
    with pytest.raises(InputError, match=words):
        AuditEvent(EventType.SHARE_CREATED, label=value).fields()


def test_recipients_are_split_trimmed_and_counted() -> None:
    assert parse_recipients(" sam, alex;sam\nkim ") == ("sam", "alex", "kim")
    assert check_note("   ", "label") is None
    with pytest.raises(InputError, match="at most 20 recipients"):
        parse_recipients(",".join(f"r{n}" for n in range(21)))


def test_text_limit() -> None:
    policy.check_text_size(policy.TEXT_MAX_BYTES)
    with pytest.raises(InputError, match="1 MiB"):
        policy.check_text_size(policy.TEXT_MAX_BYTES + 1)


@pytest.mark.parametrize(("typed", "plain"), [
    ("7-crossover-clockwork", "7-crossover-clockwork"),
    ("  7 crossover   clockwork ", "7-crossover-clockwork"),
    ("7 - crossover - clockwork", "7-crossover-clockwork"),
    ("wormhole-transfer:7-crossover-clockwork", "7-crossover-clockwork"),
    ("WORMHOLE-TRANSFER:12-a-b?version=0", "12-a-b"),
])
def test_codes_read_aloud_typed_or_scanned_become_one_form(typed: str, plain: str) -> None:
    from ots_desktop.core.codes import check_code, normalise_code

    assert normalise_code(typed) == plain
    assert check_code(typed) == plain


def test_the_qr_uri_names_a_self_hosted_mailbox_and_scans_back_to_the_code() -> None:
    from ots_desktop.core.codes import PUBLIC_MAILBOX_URL, check_code, code_uri

    assert code_uri("7-crossover-clockwork") == "wormhole-transfer:7-crossover-clockwork"
    assert code_uri("7-crossover-clockwork", PUBLIC_MAILBOX_URL) == "wormhole-transfer:7-crossover-clockwork"
    own = code_uri("7-crossover-clockwork", "wss://wormhole.corp.example:443/v1")
    assert own == "wormhole-transfer:7-crossover-clockwork?rendezvous=wss%3A%2F%2Fwormhole.corp.example%3A443%2Fv1"
    assert check_code(own) == "7-crossover-clockwork"


def test_a_scanned_code_gives_back_its_mailbox_and_an_odd_one_is_refused() -> None:
    from ots_desktop.core.codes import PUBLIC_MAILBOX_URL, code_uri, rendezvous_of

    own = "wss://wormhole.corp.example:443/v1"
    assert rendezvous_of(code_uri("7-crossover-clockwork", own)) == own
    assert rendezvous_of(code_uri("7-crossover-clockwork", PUBLIC_MAILBOX_URL)) is None
    assert rendezvous_of("7-crossover-clockwork") is None
    assert rendezvous_of("wormhole-transfer:7-crossover-clockwork?other=1") is None
    for odd in ("https%3A%2F%2Fevil.example%2F", "javascript%3Aalert(1)", "ws%3A%2F%2F", "file%3A%2F%2F%2Fetc"):
        with pytest.raises(InputError, match="not a ws:// or wss:// address"):
            rendezvous_of(f"wormhole-transfer:7-crossover-clockwork?rendezvous={odd}")


@pytest.mark.parametrize(("typed", "words"), [("7", "incomplete"), ("7-", "incomplete"), ("", "not a wormhole code"),
                                              ("crossover-clockwork", "not a wormhole code"),
                                              ("not a code", "not a wormhole code")])
def test_malformed_codes_are_bad_input(typed: str, words: str) -> None:
    from ots_desktop.core.codes import check_code

    with pytest.raises(InputError, match=words):
        check_code(typed)


def test_one_failure_vocabulary_for_both_channels() -> None:
    from ots_desktop.channels.failures import ChannelFailure
    from ots_desktop.channels.link_errors import LinkFailure
    from ots_desktop.core.audit.events import Reason
    from ots_desktop.core.failures import ALERT_REASONS, EXIT_CODES

    for reason in Reason:
        wormhole, link = ChannelFailure(reason, "x"), LinkFailure(reason, "x")
        assert wormhole.exit_code == link.exit_code, reason
        assert wormhole.is_alert == link.is_alert == (reason in ALERT_REASONS), reason
    assert set(EXIT_CODES) <= set(Reason)


def test_transfer_rate_says_how_far_how_fast_and_how_long() -> None:
    from ots_desktop.core.sizes import TransferRate

    now = [100.0]
    rate = TransferRate(300 * 2**20, clock=lambda: now[0])
    assert rate.describe(0) == "0 bytes of 300 MiB"
    now[0] += 2.0
    assert rate.describe(100 * 2**20) == "100 MiB of 300 MiB · 50 MiB/s · 4 s left"
    now[0] += 4.0
    assert rate.describe(300 * 2**20) == "300 MiB of 300 MiB · 50 MiB/s"
