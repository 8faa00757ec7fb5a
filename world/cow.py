"""Copy-on-write record tables shared by every domain's DB (retail, airline).

Every replay needs a fresh database, twice per scored episode (the agent's writes and the gold
actions). Deep-copying thousands of records each time would dominate scoring (airline's db.json
is 7 MB), so a fork shares every record with its parent and copies a record only when a write
tool first touches it (`for_write`). New records (an airline booking) are added with `add`.
Records are never mutated in place unless this fork owns them.

Equality is tau2's DB hash (SHA-256 of the sorted-key JSON dump) as type-strict dict equality
(`same_json`: 2 and 2.0 differ, as their dumps do), which holds because each domain's loader
rebuilds records in tau2's dump shape. Two forks of one root
differ only in records either of them copied or added, so they compare on those keys alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_MISSING = object()


def copy_record(x: Any) -> Any:
    """Deep copy of a JSON-shaped value (dicts, lists, scalars); faster than copy.deepcopy."""
    if isinstance(x, dict):
        return {k: copy_record(v) for k, v in x.items()}
    if isinstance(x, list):
        return [copy_record(v) for v in x]
    return x


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON text would be: like ==, but 2 != 2.0 and 1 != True, because tau2's hash
    dumps them differently (a tool that stores a raw argument makes the difference real)."""
    if a is b:
        return True  # forks share sub-records: identity settles most of a comparison
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN dumps as NaN on both sides


class CowDB:
    """Named record tables (dicts keyed by id) with cheap forks and tau2-equivalent equality.

    Subclasses set `TABLES` (the top-level keys of their db.json, in dump order) and expose
    each table as an attribute of that name. Read through the attributes; never mutate what
    they return. Writers call `for_write(table, key)` (this fork's own copy) or `add`."""

    TABLES: tuple[str, ...] = ()

    def __init__(self, **tables: dict):
        for name in self.TABLES:
            setattr(self, name, tables[name])
        # Records this fork copied (may mutate) ...
        self._own: dict[str, set] = {name: set() for name in self.TABLES}
        # ... and records that are no longer the root's objects (copied or added here or by a
        # parent). Two forks of one root can then be compared on those keys alone.
        self._root: CowDB = self
        self._dirty: dict[str, set] = {name: set() for name in self.TABLES}

    # -- forks and writes -------------------------------------------------------------------
    def fork(self):
        """A new DB sharing every record with this one; writes copy the touched record."""
        child = self.__class__(**{name: dict(getattr(self, name)) for name in self.TABLES})
        child._root = self._root
        child._dirty = {name: set(keys) for name, keys in self._dirty.items()}
        return child

    def for_write(self, table: str, key: str) -> dict:
        """This fork's own, mutable copy of a record (KeyError when absent)."""
        own = self._own[table]
        records = getattr(self, table)
        if key not in own:
            records[key] = copy_record(records[key])
            own.add(key)
            self._dirty[table].add(key)
        return records[key]

    def add(self, table: str, key: str, record: dict) -> None:
        """Insert a new record this fork owns (the caller must not keep mutating a shared one)."""
        getattr(self, table)[key] = record
        self._own[table].add(key)
        self._dirty[table].add(key)

    # -- comparison ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The records as one dict (shared, read-only view: copy before mutating)."""
        return {name: getattr(self, name) for name in self.TABLES}

    def canonical_hash(self) -> str:
        """SHA-256 of the sorted-key JSON dump, the same construction as tau2's DB hash."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CowDB) or other.TABLES != self.TABLES:
            return NotImplemented
        if self._root is other._root:
            # Tools never remove records, so forks of one root can differ only in the
            # records either of them copied or added.
            for name in self.TABLES:
                mine, theirs = getattr(self, name), getattr(other, name)
                if len(mine) != len(theirs):
                    return False
                for key in self._dirty[name] | other._dirty[name]:
                    a, b = mine.get(key, _MISSING), theirs.get(key, _MISSING)
                    if a is not b and not same_json(a, b):
                        return False
            return True
        for name in self.TABLES:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is theirs:
                continue
            if mine.keys() != theirs.keys():
                return False
            for key, rec in mine.items():
                other_rec = theirs[key]
                # Forks share untouched records, so identity settles almost every row.
                if rec is not other_rec and not same_json(rec, other_rec):
                    return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable

    def diff_keys(self, other: "CowDB") -> list[str]:
        """Ids of records that differ from `other` (e.g. `orders/#W1`), for explanations."""
        out = []
        for name in self.TABLES:
            mine, theirs = getattr(self, name), getattr(other, name)
            for key in sorted(set(mine) | set(theirs)):
                a, b = mine.get(key, _MISSING), theirs.get(key, _MISSING)
                if a is not b and not same_json(a, b):
                    out.append(f"{name}/{key}")
        return out


def load_json_cached(cls, path, what: str, cache: dict):
    """Load a db.json once per process (cached by path, size and mtime) into `cls.from_dict`;
    returns a fresh fork. WorldError names the file on any problem."""
    from pathlib import Path

    from .errors import WorldError, shown_path

    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise WorldError(f"{shown_path(p)}: cannot read the {what} database ({exc.strerror})") from None
    key = (cls.__name__, str(p.resolve()), st.st_size, st.st_mtime_ns)
    base = cache.get(key)
    if base is None:
        try:
            with open(p, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise WorldError(f"{shown_path(p)}: cannot read the {what} database ({exc.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WorldError(f"{shown_path(p)}: not valid JSON ({exc})") from None
        base = cls.from_dict(data, str(p))
        cache[key] = base
    return base.fork()
