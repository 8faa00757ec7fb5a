"""Errors of the locked world a user can act on (bad data directory, unknown domain, ...)."""


class WorldError(Exception):
    """Bad world input: the message names the file, the record and what was wrong."""


def describe_json_error(msg: str, where: str, truncated: bool) -> str:
    """One readable sentence for a json.JSONDecodeError, shared by `t2e score` and the store's
    importers so both say the same thing about the same broken file. `msg` is the error's bare
    .msg (for strings it ends in "starting at" and must not be glued to other words); `where`
    names the position; `truncated` says the error is at the end of the file."""
    if msg.startswith("Unterminated string"):
        return f"truncated JSON: the file ends inside a string that starts at {where}"
    what = msg[:1].lower() + msg[1:]
    if what.endswith(" at"):  # "Invalid control character at": the position follows
        what = what[:-3]
    if truncated:
        return f"truncated JSON: the file ends at {where} before the value is complete ({what})"
    return f"invalid JSON at {where}: {what}"
