"""The signed, hash-chained, append-only audit log.

- :mod:`.events` names what can be recorded, and refuses anything else.
- :mod:`.chain` holds the canonical encoding and the hash chain.
- :mod:`.checkpoint` signs and checks (seq, head) checkpoints with Ed25519.
- :mod:`.keystore` keeps the keys and the latest checkpoint in the OS keychain.
- :mod:`.store` is the SQLite file; :mod:`.log` is the API the app uses.
- :mod:`.verify` checks a log offline; :mod:`.export` writes CSV/JSONL with a signed manifest.
"""
