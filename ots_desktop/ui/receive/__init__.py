"""The Receive page: take a secret by wormhole code (with completion) or by one-time link."""
