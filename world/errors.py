"""Errors of the locked world a user can act on (bad data directory, unknown domain, ...)."""


class WorldError(Exception):
    """Bad world input: the message names the file, the record and what was wrong."""
