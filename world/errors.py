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


def shown_path(path: object) -> str:
    """A path as every message names it: text in which what a display would act on, strip or
    hide is written as an escape (ESC as `\\x1b`, a newline as `\\x0a`, a bidi override as
    `\\u202e`, a byte of another encoding as `\\xNN`). Displays strip control sequences from
    messages, which took part of a name with them (`x<ESC>[31m.json` said `x.json`, another
    file); an escape is plain text, so the name shown is the one given."""
    import os

    text = path if isinstance(path, str) else os.fsdecode(path)  # type: ignore[arg-type]
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)
