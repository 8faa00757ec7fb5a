"""What a file is, for the importers (`detect_format`: which reader takes it, by its first
bytes), and what a JSON list file is, by the shape of its first item: tau2 task definitions
(a domain's tasks.json, an input of tau2) are no results and are refused by name, whichever
importer the file would otherwise reach."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .common import ImportFailure, open_regular, without_bom
from .harbor_layout import harbor_kind
from .jsonstream import JsonStream, JsonStreamError

# a simulation's keys (tau2 0.x and 1.x, t2e's own JSONL): an item holding any of these is
# a run's record, never a task definition
_SIM_KEYS = ("task_id", "messages", "ticks", "reward_info", "termination_reason", "trial")

TASKS_FILE = ("a tau2 tasks file (a list of task definitions: id, user_scenario, "
              "evaluation_criteria), not results: nothing was imported. Import a results "
              "file instead (what a tau2 run writes: an object with info, tasks and "
              "simulations, or a results directory); a tasks file is read from its tau2 data "
              "directory by --data (t2e run, t2e score, t2e gate, t2e heldout register)")


def is_task_definition(item: Any) -> bool:
    """A tau2 task definition: a user scenario or evaluation criteria, no simulation keys."""
    return (isinstance(item, dict) and "id" in item
            and ("user_scenario" in item or "evaluation_criteria" in item)
            and not any(k in item for k in _SIM_KEYS))


def tasks_list(p: Path) -> bool:
    """Whether the JSON file `p` is a list whose first item is a task definition (read up to
    that item only; a file that is no valid JSON there is left to its importer to name)."""
    with open_regular(p) as fh:
        stream = JsonStream(fh)
        try:
            if stream.peek() != "[":
                return False
            return is_task_definition(next(iter(stream.iter_array()), None))
        except (JsonStreamError, RecursionError):
            return False


_SNIFF = 1 << 20


def detect_format(p: Path) -> str:
    """tau2-dir | harbor (a Harbor job or trial folder) | t2e-jsonl | otel | atif | tau2
    (monolithic JSON or a foreign JSON shape) |
    tau2-tasks (a list of tau2 task definitions: no evidence, refused)."""
    if p.is_dir():
        return "harbor" if harbor_kind(p) else "tau2-dir"
    with open_regular(p) as fh:
        head = fh.read(_SNIFF)
    _not_compressed(head)
    foreign = _sniff_foreign(head)
    if foreign:
        return foreign
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        return "t2e-jsonl"
    if without_bom(head).lstrip()[:1] == b"[" and tasks_list(p):
        return "tau2-tasks"  # an input of tau2, no results: refused by name (_import_one)
    first, nl, rest = head.partition(b"\n")
    first = without_bom(first)
    if not nl or not first.strip().startswith(b"{"):
        return "tau2"
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return "tau2"  # (nested too deep: the reader says so, as for any JSON file)
    if not isinstance(obj, dict) or "simulations" in obj:
        return "tau2"
    if obj.get("type") in ("run", "episode") or "messages" in obj:
        return "t2e-jsonl"
    return "tau2"


# a compressed file's first bytes, its name and the command that decompresses it
_COMPRESSED = ((b"\x1f\x8b", "gzip", "gunzip -k FILE"),
               (b"\x28\xb5\x2f\xfd", "zstd", "zstd -d FILE"),  # (the collector's option)
               (b"BZh", "bzip2", "bunzip2 -k FILE"),
               (b"\xfd7zXZ\x00", "xz", "unxz -k FILE"),
               (b"PK\x03\x04", "zip", "unzip FILE"))


class Compressed(ImportFailure):
    """A compressed file (import_path names it with the file's path)."""


def _not_compressed(head: bytes) -> None:
    """A compressed file (by its magic bytes) is refused by name: it was read as text and
    refused as invalid UTF-8 near byte 1."""
    for magic, kind, command in _COMPRESSED:
        if head.startswith(magic):
            raise Compressed(f"the file is compressed ({kind}): t2e reads the uncompressed "
                                f"file; decompress it first ({command})")


_OTEL_HEAD = re.compile(rb'^\s*\{\s*"resourceSpans"\s*:')
# an ATIF trajectory whose schema_version is no "ATIF-..." text (a number, null): its other
# keys say what it is, so the ATIF reader names the field instead of a generic refusal
_ATIF_KEYS = {"schema_version", "agent", "steps"}
# a JSON string (with its escapes) or a bracket: enough to follow the nesting of a file's head
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_ATIF_VALUE = re.compile(rb'\s*:\s*"ATIF')


def _outer_keys(head: bytes) -> dict[str, bool]:
    """The keys of the file's outer object (of a list's items, for a list of them) in its
    head, each with whether its value is "ATIF..." text. A key nested deeper (a tau2 export's
    simulations carry their ATIF schema_version in their atif blocks) is none of them."""
    keys: dict[str, bool] = {}
    depth, outer = 0, None
    for m in _TOKEN.finditer(head):
        tok = m.group()
        if tok in (b"{", b"["):
            if outer is None:
                outer = 1 if tok == b"{" else 2
            depth += 1
        elif tok in (b"}", b"]"):
            depth -= 1
        elif depth == outer and head[m.end():m.end() + 64].lstrip()[:1] == b":":
            name = tok[1:-1].decode("utf-8", "replace")
            keys[name] = keys.get(name, False) or bool(_ATIF_VALUE.match(head, m.end()))
    return keys


# t2e's own JSON Lines (its export): the first record's first key is its type. Asked before
# the ATIF sniff: an ATIF run's export carries each trajectory's schema_version in its
# episodes' atif blocks, and was read as an ATIF file ("extra data" at the end of line 1)
_T2E_HEAD = re.compile(rb'^\s*\{\s*"type"\s*:\s*"(?:run|episode)"')


def _sniff_foreign(head: bytes) -> str | None:
    """OTLP/JSON traces (the first key is resourceSpans) or a Harbor ATIF trajectory (None
    for t2e's own JSON Lines, whatever their episodes carry)."""
    text = head.lstrip(b"\xef\xbb\xbf")
    if _OTEL_HEAD.match(text):
        return "otel"
    if _T2E_HEAD.match(text):
        return None
    keys = _outer_keys(text[:65536])
    if keys.get("schema_version"):
        return "atif"
    if "simulations" not in keys and _ATIF_KEYS <= keys.keys():
        return "atif"
    return None
