"""``ots server``: the one-time link relay and the reveal page (aiohttp)."""
