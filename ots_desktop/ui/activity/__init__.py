"""The Activity page: review, verify, export and search the local audit log, offline."""
