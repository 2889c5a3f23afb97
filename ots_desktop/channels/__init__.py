"""Transports for secrets: the wormhole channel and the relay client (asyncio)."""
