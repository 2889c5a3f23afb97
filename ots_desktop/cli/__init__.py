"""The ``ots`` command line."""
