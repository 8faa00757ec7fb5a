"""OpenTelemetry GenAI traces in OTLP/JSON (what the collector's file exporter writes).

The file is read once, streamed: one `{"resourceSpans": [...]}` request per line (JSON Lines,
the collector's layout) or one such object for the whole file. Spans are spilled to a
temporary SQLite file and read back one conversation at a time (otel_spill.py), so memory
stays near one conversation whatever the file size.

A big file uses both cores: a worker process (otel_worker.py), started before import_path
hashes the file (early_worker), spills blocks of lines while this process hashes the file;
then both take the file's blocks in turn until none is left (otel_lines.spill_shared); then the
worker builds the episodes (grouping, messages, validation) and sends them here, where they
become rows and are written.

An episode is a conversation: spans sharing `gen_ai.conversation.id` (OpenInference:
`session.id`; a span without one: its trace's conversation when there is exactly one), else a
trace. Its root is the first `invoke_agent` span (else the first span
without a parent in the group). Messages come from chat spans (otel_spans.chat_io), tool calls
and results from `execute_tool` spans; messages missing because content capture was off are
stored as "(content not captured)" and counted in the run's warnings. Foreign traces carry no
gold: reward stays empty unless the root says `t2e.reward_info` (our own export) or the user
maps an outcome attribute at gate time (`t2e gate --reward-attr NAME`). Our own export's other
fields (costs, seed, every turn's usage: store/export_otel.py) are read back where present, and
so is its run's world (`t2e.run.*` on one root: info, policy, tasks; otel_run.py): a run that
has its tasks back is graded `recorded`, as the tau2 file it came from was.
"""

from __future__ import annotations

import gc
import os
import select
import shutil
import subprocess
import tempfile
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any, Iterator

from world.subproc import spawn_module, stop

from . import otel_lines
from .bulk import import_cache
from .common import (
    ImportContext,
    ImportFailure,
    RunMeta,
    open_regular,
    wants_worker,
)
from .episodes import RowBuilder, next_ids, write_batch
from .otel_fidelity import IGNORED as FIDELITY_IGNORED
from .otel_fidelity import Ignored
from .otel_groups import episodes
from .otel_lines import BlockFailure, NotLines, layout, spill_lines, spill_shared
from .otel_run import SIM_KEY as RUN_KEY
from .otel_run import RunFields
from .otel_spill import Spiller, open_spill, spill_path
from .otel_stream import spill_stream
from .otel_worker import read_event

FORMAT = "otel-genai"
# the run's top-level keys, in a tau2 export's order (info and tasks: our own export's run fields)
_KEYS = ("domain", "otel", "info", "tasks")


def import_file(conn, ctx: ImportContext, worker: _Worker | None = None) -> None:
    """Import one OTLP/JSON trace file as one run (the caller holds the transaction).
    `worker`: one started for this file before it was hashed (early_worker); the caller
    closes it."""
    # the cyclic collector would walk the long-lived objects again and again while millions
    # of short-lived spans, messages and rows go by (none of them cyclic): a seventh of the CPU
    was = gc.isenabled()
    gc.disable()
    try:
        _import(conn, ctx, worker)
    finally:
        if was:
            gc.enable()


def early_worker(path: Path) -> _Worker | None:
    """The worker for an OTLP file that wants one, started before import_path hashes the file:
    the worker's start-up and the spill of its part of the file overlap the hash (which this
    process spends alone otherwise). Nothing reaches the store before the import proper; a
    worker not used (a duplicate, a file another process imports) is stopped by close()."""
    try:
        return _Worker(path, early=True) if wants_worker(path.stat().st_size) else None
    except OSError:
        return None  # the import proper says what is wrong, as before


def _import(conn, ctx: ImportContext, worker: _Worker | None) -> None:
    from .tau2 import _free_run_id

    ctx.fmt = FORMAT
    run_id = _free_run_id(conn)
    builder = RowBuilder(run_id, *next_ids(conn))
    source = worker or _source(ctx)
    if isinstance(source, _Worker):
        source.hashing = ctx.hashing
    try:
        try:
            n_spans, services = source.spill(builder.next_episode)
        except NotLines as exc:
            # the first line was a whole object, a later one only starts one: objects one
            # after another, the first ones compact (store/formats.md). Read again, streamed
            # (nothing is stored yet: the spill files go with the source)
            source.close()
            source = _source(ctx, lines=False)
            if isinstance(source, _Worker):
                source.hashing = ctx.hashing
            try:
                n_spans, services = source.spill(builder.next_episode)
            except ImportFailure as err:
                raise ImportFailure(f"{err} (read as JSON objects one after another: line "
                                    f"{exc.line} holds no whole object)") from None
        if not n_spans:
            raise ImportFailure("no spans found (an OTLP/JSON export has resourceSpans → "
                                "scopeSpans → spans)")
        service = next((s for s, _ in services.most_common() if s), None)
        top: dict[str, Any] = {"domain": service or "otel",
                               "otel": {"spans": n_spans,
                                        "services": sorted(s for s in services if s)}}
        not_captured = by_conv = 0
        run_fields = RunFields()
        ignored = Ignored()
        # FTS5 automerge off and a larger page cache for the import, as tau2's (bulk.py),
        # sized to the pages the rows take: about a fifth of the file's bytes with content
        # captured (42 MB for the bench's 200 MB), so a quarter leaves headroom. The smallest
        # cache (64 MB) spilled a 1 GB file's 210 MB of new pages to the WAL and read them
        # back (CPU 16.6 -> 15.9 s)
        with import_cache(conn, (ctx.size or 0) // 4):
            for sim, lat, nc, conv, rows in source.episodes():
                if RUN_KEY in sim:  # (one root in a file of ours)
                    run_fields.add(sim.pop(RUN_KEY), sim)
                if FIDELITY_IGNORED in sim:  # (our export's fields of another shape)
                    ignored.add(sim["id"], sim.pop(FIDELITY_IGNORED))
                batch = builder.add(sim, builder.episodes, latencies=lat, step_rows=rows)
                if batch is not None:
                    write_batch(conn, batch)
                not_captured += bool(nc)
                by_conv += conv
            if ctx.hashing is not None:
                ctx.hashing.hurry()  # the worker is done: its core is free
            batch = builder.take()
            if batch is not None:
                write_batch(conn, batch)
        stats = source.stats
    finally:
        source.close()
    if not builder.episodes:
        raise ImportFailure(f"no GenAI spans found among {n_spans} span(s) (expected "
                            "gen_ai.* or OpenInference attributes: chat, execute_tool or "
                            "invoke_agent spans)")
    if not_captured:
        ctx.warn(f"{not_captured} episode(s) have messages whose content was not captured "
                 "(GenAI content capture off): shown as \"(content not captured)\"")
    gold = run_fields.apply(top, ctx.warn)
    ignored.warn(ctx.warn)
    # (an export of a run whose rewards were mapped, a Harbor job's, carries them in
    # reward_info: no mapping to ask for)
    mapped = conn.execute(
        "SELECT json_extract(reward_info_json, '$.info.mapped_from') AS m, count(*) FROM "
        "episodes WHERE run_id = ? AND m IS NOT NULL GROUP BY m ORDER BY 2 DESC",
        (run_id,)).fetchall()
    n_mapped = sum(n for _, n in mapped)
    ctx.warn(f"{builder.episodes} episode(s): {by_conv} grouped by gen_ai.conversation.id, "
             f"{builder.episodes - by_conv} by trace id; " + (
                 "the run's tasks, policy and info come from t2e's own export (t2e.run.*)"
                 if gold else
                 f"{n_mapped} episode(s) have a reward mapped from "
                 f"{', '.join(str(m) for m, _ in mapped)} (their reward_info): kept, no "
                 "--reward-attr needed" if n_mapped else
                 "foreign traces carry no gold (map an outcome attribute with "
                 "`t2e gate --reward-attr NAME`)"))
    if stats.get("failed"):
        ctx.warn(f"{stats['failed']} episode(s) have chat calls that failed without an answer "
                 "(error status, no output): shown as \"(model call failed: <error.type>)\"")
    if stats.get("choices"):
        ctx.warn(f"{stats['choices']} episode(s) have chat calls that returned several choices: "
                 "the one the next chat input carries (else the first) is the step, the others "
                 "are kept on it as unchosen_choices")
    if stats.get("spans_ending_before_start"):
        ctx.warn(f"{stats['spans_ending_before_start']} span(s) end before they start (times "
                 "out of order): their steps' latency is left empty")
    if stats.get("bad_times"):
        n = stats["bad_times"]
        ctx.warn(f"{n} span time(s) are not OTLP fixed64 nanoseconds (an integer from 0 to "
                 "2^64 - 1, or its decimal text) and were read as no time: "
                 + "; ".join(stats["bad_times_seen"])
                 + (" ..." if n > len(stats["bad_times_seen"]) else ""))
    if stats.get("spans_without_start"):
        ctx.warn(f"{stats['spans_without_start']} span(s) have no start time: placed where they "
                 "are in the file among their conversation's spans, latency left empty")
    if stats.get("overlapping"):
        ctx.warn(f"{stats['overlapping']} conversation(s) hold traces that run at the same "
                 "time (one gen_ai.conversation.id given to concurrent traces?): their spans "
                 "are read as one conversation in time order, interleaved")
    if stats["skipped"]:
        ctx.warn(f"{stats['skipped']} trace(s) without any GenAI span were not imported")
    if stats.get("outside"):
        ctx.warn(f"{stats['outside']} span(s) without a conversation id, in traces of several "
                 "conversations, belong to none of them (no span above or below them has one: "
                 "a root over two, say) and hold no message: in no episode")
    ctx.warnings.extend(ctx.summary_warnings(builder, record="episode"))
    if stats.get("duplicates"):
        ctx.warn(f"{stats['duplicates']} span(s) repeated a trace and span id already read (a "
                 "collector's retry writes a batch twice): each was imported once")
    models: Counter = stats["models"]
    agent = models.most_common(1)[0][0] if models else None
    # the source and run rows last (the episodes name the run id chosen above): the file's
    # hash may be ready only now (importers/__init__._import_hashing)
    keys = [k for k in _KEYS if k in top] + ["simulations"]
    ctx.grading = "recorded" if gold else "foreign"
    ctx.start_run(conn, RunMeta(top_keys=keys, top=top), run_id=run_id)
    top["otel"]["agent_model"] = agent
    ctx.episodes, ctx.messages = builder.episodes, builder.messages
    ctx.finish_run(conn, RunMeta(top_keys=keys, top=top))
    conn.execute("UPDATE runs SET grading = ?, agent_model = coalesce(?, agent_model) "
                 "WHERE run_id = ?", ("recorded" if gold else "foreign", agent, run_id))


def _source(ctx: ImportContext, lines: bool | None = None) -> _Worker | _InProcess:
    """What spills the file: a worker process beside this one for a big file, else this
    process. `lines`: whether it is JSON Lines, when known (else its first line says)."""
    if wants_worker(ctx.size):
        return _Worker(ctx.path, lines=lines)
    return _InProcess(ctx, lines)


class _InProcess:
    """Everything in this process (small files)."""

    def __init__(self, ctx: ImportContext, lines: bool | None = None):
        self.lines = lines
        self.tmp = tempfile.mkdtemp(prefix="t2e-otel-")  # ours: removed by close(), as _Worker's
        self.ctx, self.path = ctx, spill_path(self.tmp, "w")
        try:
            self.db = open_spill(self.path)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.stats: dict = {}

    def spill(self, first_episode: int) -> tuple[int, Counter]:
        sp = Spiller(self.db, self.path)
        with open_regular(self.ctx.path) as fh:
            if layout(fh) == "lines" if self.lines is None else self.lines:
                spill_lines(sp, fh, 0, self.ctx.size or os.fstat(fh.fileno()).st_size,
                            lambda: 1)
            else:
                spill_stream(sp, fh)
        return sp.spans, sp.services

    def episodes(self) -> Iterator[tuple]:
        for ep in episodes(self.db, self.path, None, self.stats):
            yield (*ep, None)

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class _Worker:
    """The worker process and this one spill the file's blocks, each taking the next one in
    turn (all of a file that is not JSON Lines goes to the worker); then the worker builds the
    episodes.

    Protocol (worker stdout: framed events, see _Pipe; stdin: one line from us): the worker sends
    ("spilled", spans, services) or ("error", message, block, NotLines's line or None); we answer "go FIRST_EPISODE_ID\n"
    once our blocks are spilled (or close stdin to stop it); it then sends ("episodes", [...])
    chunks and ("done", stats). An episode is (simulation, latencies, not captured, by
    conversation, step rows): while we are behind (its queue backs up) the worker also makes the
    step rows (`writer.step_row`, with the episode ids we will give), so the two processes share
    the row building whichever side is slower."""

    def __init__(self, path: str | os.PathLike, *, early: bool = False,
                 lines: bool | None = None):
        """Start the worker (`early`: before import_path hashes the file; it spills blocks
        meanwhile). `lines`: whether the file is JSON Lines, when known (else its first line
        says)."""
        self.path = str(path)
        self.stats: dict = {}
        self.proc: subprocess.Popen | None = None
        # the file's hash, made while this process waits for the worker (ctx.hashing), and
        # the poll that says whether an event is waiting (any descriptor number: select stops
        # at 1023)
        self.hashing: Any = None
        self._poll: Any = None
        self.tmp = tempfile.mkdtemp(prefix="t2e-otel-")  # ours: removed by close()
        try:
            with open_regular(self.path) as fh:
                self.size = os.fstat(fh.fileno()).st_size
                self.lines = layout(fh) == "lines" if lines is None else lines
            self.block = otel_lines.SPILL_BLOCK  # read here: tests make it small
            # unbuffered: whether an event is waiting is a question for the pipe (select)
            self.proc = spawn_module("store.importers.otel_worker", self.path, self.tmp,
                                     "lines" if self.lines else "stream", str(self.block),
                                     str(self.size),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        except BaseException:
            self.close()
            raise

    def spill(self, first_episode: int) -> tuple[int, Counter]:
        path, size = self.path, self.size
        failed: BlockFailure | None = None
        n, services = 0, Counter()
        if self.lines:
            mine = spill_path(self.tmp, "p")
            with open_regular(path) as fh, closing(open_spill(mine)) as db:
                sp = Spiller(db, mine, 1)  # (the spill closes its record file)
                try:
                    spill_shared(sp, fh, path, size, self.tmp, self.block)
                except BlockFailure as exc:
                    failed = exc
                n, services = sp.spans, sp.services
        ev = self._event()
        if ev is None or ev[0] not in ("spilled", "error"):
            self._check(ev)
        if ev[0] == "error":  # the earlier block's error is the file's first
            if failed is None or ev[2] < failed.block:
                failed = BlockFailure(ev[1], ev[2], ev[3])
        if failed is not None:
            if failed.line is not None:
                raise NotLines(str(failed), failed.line)
            raise ImportFailure(str(failed))
        self.proc.stdin.write(b"go %d\n" % first_episode)
        self.proc.stdin.close()
        return n + ev[1], services + ev[2]

    def _check(self, ev: tuple | None) -> tuple:
        if ev is None:
            raise RuntimeError("the import worker process ended unexpectedly (exit code "
                               f"{self.proc.poll()})") from None
        if ev[0] == "error":
            raise ImportFailure(ev[1])
        if ev[0] == "crash":
            raise RuntimeError(f"the import worker failed: {ev[1]}")
        return ev

    def _event(self) -> tuple | None:
        """The worker's next event; while none has come, the file is hashed (if it is being
        hashed during the import): this process would only wait."""
        fh = self.proc.stdout
        if self.hashing is not None:
            if self._poll is None:
                self._poll = select.poll()
                self._poll.register(fh, select.POLLIN)
            if not self._poll.poll(0):
                with self.hashing.waiting():
                    return read_event(fh)
        return read_event(fh)

    def built(self) -> bool:
        """Whether the worker has built every episode (it says so with a file)."""
        return os.path.exists(os.path.join(self.tmp, "built"))

    def _next(self) -> tuple:
        return self._check(self._event())

    def episodes(self) -> Iterator[tuple]:
        while True:
            ev = self._next()
            if ev[0] == "done":
                self.stats = ev[1]
                return
            yield from ev[1]

    def close(self) -> None:
        """Stop the worker if it is still running (an error on either side, or an early
        worker not used) and remove its files; safe to call twice."""
        if self.proc is not None:
            stop(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)
