"""Forwarding the audit log to the organisation's log collector: syslog (RFC 5424) and HTTP event collectors.

The formats and the spool are in :mod:`ots_desktop.core.audit` (``forward_*``); this package holds
what talks to the network: the senders, and the worker thread that feeds the spool from each
append and empties it towards the collectors, off every share's path.
"""
