"""Turning the wormhole verifier into words two people can compare over the phone."""

from __future__ import annotations

WORDS = 6


def describe_verifier(verifier: bytes) -> str:
    """The first bytes of the verifier as PGP words, then the hex the stock CLI prints.

    Both sides see the same words only if nobody sits between them.
    """
    from wormhole._wordlist import byte_to_even_word, byte_to_odd_word

    words = [(byte_to_even_word if i % 2 == 0 else byte_to_odd_word)[verifier[i : i + 1]]
             for i in range(min(WORDS, len(verifier)))]
    return " ".join(words) + f" ({verifier.hex()})"
