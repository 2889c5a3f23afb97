"""Pure core: secret buffers, envelope crypto, the audit log, config and errors.

Nothing in this package imports Qt, opens a network connection or needs an event loop.
"""
