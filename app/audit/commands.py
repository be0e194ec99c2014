"""``pitboss replay``: replay table events through the decision core and compare the journal;
with ``--what-if FILE``, also under a candidate ruleset, reported rule by rule.

It reads with a plain consumer and no group, and writes nothing but its checkpoint file, so
it is safe against a live deployment. Exit status: 0 when the journal agrees, 1 when there
are mismatches, 2 when the replay could not run (``app.operations.cli``: one line, no
traceback) or for a usage error.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click
import orjson
from faust.cli import option

from app.audit.model import ReplayRange
from app.audit.report import Report, tally_difference
from app.audit.source import CheckpointMismatchError, Progress, ReplayOptions, run_replay
from app.core.times import time_ms
from app.operations.admin import describe_topics
from app.operations.cli import Command
from app.operations.topics import topic_specs
from app.rules.commands import render_problems
from app.rules.loader import RulesFileError
from app.rules.policy import PolicyFileError
from app.streaming.faust_app import app, settings


def parse_time(text: str, option: str) -> int:
    """Epoch ms from ``1732300000000`` or an ISO-8601 instant with a zone (``app.core.times``)."""
    try:
        return time_ms(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def parse_offsets(text: str | None, partitions: int) -> dict[int, int]:
    """``1200`` (every partition) or ``0:1200,3:900`` (those partitions)."""
    if text is None:
        return {}
    text = text.strip()
    try:
        if ":" not in text:
            return dict.fromkeys(range(partitions), int(text))
        pairs = (part.split(":") for part in text.split(",") if part.strip())
        return {int(p): int(o) for p, o in pairs}
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: give an offset, or partition:offset,…") from exc


def make_window(
    from_time: str | None,
    to_time: str | None,
    from_offset: str | None,
    to_offset: str | None,
    partitions: int,
) -> ReplayRange:
    if (from_time or to_time) and (from_offset or to_offset):
        raise click.UsageError("give a range by time or by offsets, not both")
    if from_offset or to_offset:
        starts = parse_offsets(from_offset, partitions)
        ends = parse_offsets(to_offset, partitions)
        listed = starts.keys() | ends.keys()
        return ReplayRange(offsets={p: (starts.get(p), ends.get(p)) for p in sorted(listed)})
    return ReplayRange(
        from_ms=parse_time(from_time, "--from-time") if from_time else None,
        to_ms=parse_time(to_time, "--to-time") if to_time else None,
    )


def _change(a: int, b: int) -> str:
    if a == b:
        return f"{a:,}"
    return f"{a:,} → {b:,} ({b - a:+,})"


def render_what_if(report: Report) -> str:
    """Per rule, in force → candidate: rewards, amounts by kind, suppressions, cool-downs and
    players affected; changed rules first."""
    assert report.candidate is not None
    rows = tally_difference(report.in_force, report.candidate)
    lines = [f"what-if: {report.candidate_label} against the rules in force, events in range"]
    head = f"  {'rule':<34} {'rewards':<22} {'issued':<34} {'suppressed':<36} cool-downs  players"
    lines.append(head)
    for row in rows:
        issued = ", ".join(f"{k} {_change(*v)}" for k, v in row["amounts"].items()) or "-"
        held = ", ".join(f"{k} {_change(*v)}" for k, v in row["suppressed"].items()) or "-"
        mark = "*" if row["changed"] else " "
        lines.append(
            f"{mark} {row['rule']:<34} {_change(*row['rewards']):<22} {issued:<34} {held:<36} "
            f"{_change(*row['cooldowns']):<11} {_change(*row['players'])}"
        )
    if not any(r["changed"] for r in rows):
        lines.append("  (the candidate decides exactly as the rules in force)")
    return "\n".join(lines)


def render_report(report: Report, show: int = 50) -> str:
    warmup = f"warm-up: {report.warmup_before:,} events before the range"
    if report.warmup_after:
        warmup += f", {report.warmup_after:,} after it"
    lines = [
        f"replay of {report.window}: {report.records:,} records, {report.events:,} player events",
        f"  {report.in_range:,} events in range ({warmup})",
        f"  decisions replayed {report.decisions:,}, journal entries {report.journaled:,}, "
        f"matches {report.matches:,}, mismatches {report.mismatch_total:,}, "
        f"ambiguous {report.ambiguous_count:,}",
    ]
    revisions = ", ".join(f"{label}: {n:,} events" for label, n in sorted(report.revisions.items()))
    lines.append(
        f"  rules in force: {revisions or 'none'} ({report.pinned_by_journal:,} pinned by "
        f"the journal, {report.chosen_by_time:,} by publish time)"
    )
    if report.journal_duplicates:
        lines.append(f"  {report.journal_duplicates:,} identical re-journaled copies (no mismatch)")
    if report.shredded:
        lines.append(
            f"  {report.shredded:,} journal entries of erased players (their secret is gone, "
            "so they cannot be recomputed: shredded, no mismatch)"
        )
    if report.mismatches:
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(report.mismatch_counts.items()))
        lines.append(f"mismatches ({kinds or 'none'}; ambiguous {report.ambiguous_count:,}):")
        for mismatch in report.mismatches[:show]:
            flag = "ambiguous, near a rules switch-over: " if mismatch.ambiguous else ""
            lines.append(f"  {flag}{mismatch.describe()}")
        if len(report.mismatches) > show:
            lines.append(f"  … {len(report.mismatches) - show:,} more (--show N, or --json)")
    if report.unreplayed:
        lines.append(
            f"{report.unreplayed:,} journal entries in range could not be replayed "
            "(their events are gone from the topics, or outside an offset range), e.g.:"
        )
        lines.extend(f"  {s}" for s in report.unreplayed_samples[:5])
    for note in report.revision_notes[:10]:
        lines.append(f"note: {note}")
    if report.candidate is not None:
        lines.append(render_what_if(report))
    return "\n".join(lines)


def report_json(report: Report, elapsed: float) -> dict:
    doc = report.to_json()
    if report.candidate is not None:
        doc["what_if"] = tally_difference(report.in_force, report.candidate)
    doc["elapsed_s"] = round(elapsed, 3)
    for name in ("rejected_replayed", "rejected_journal"):
        doc.pop(name, None)
    return doc


@app.command(
    option("--from-time", default=None, help="Range start, event time: ISO-8601 or epoch ms."),
    option("--to-time", default=None, help="Range end (exclusive), event time."),
    option("--from-offset", default=None, help="table-events offset: 1200, or 0:1200,3:900."),
    option("--to-offset", default=None, help="table-events offset (exclusive), as --from-offset."),
    option(
        "--what-if",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="Also decide the range under this candidate ruleset file, rule by rule.",
    ),
    option(
        "--checkpoint",
        type=click.Path(dir_okay=False),
        default=None,
        help="Where Ctrl-C saves progress (default: <state dir>/replay.checkpoint).",
    ),
    option("--resume", is_flag=True, default=False, help="Go on from the checkpoint."),
    option("--json", "as_json", is_flag=True, default=False, help="The report as JSON."),
    option("--show", type=int, default=50, help="How many mismatches to list."),
    base=Command,
)
async def replay(
    self: object,
    from_time: str | None,
    to_time: str | None,
    from_offset: str | None,
    to_offset: str | None,
    what_if: str | None,
    checkpoint: str | None,
    resume: bool,
    as_json: bool,
    show: int,
) -> None:
    """Replay table events through the decision core and compare with the journal."""
    window = make_window(from_time, to_time, from_offset, to_offset, settings.partitions)
    stop = asyncio.Event()
    options = ReplayOptions(
        window=window,
        what_if=Path(what_if) if what_if else None,
        checkpoint=Path(checkpoint) if checkpoint else settings.state_dir / "replay.checkpoint",
        resume=resume,
        progress=_say_progress,
        stop=stop,
    )
    await check_partition_counts()
    if resume and not options.checkpoint.exists():
        print(f"no checkpoint at {options.checkpoint}: replaying from the start", file=sys.stderr)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        outcome = await run_replay(settings, options)
    except RulesFileError as exc:
        print(render_problems(exc), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except (PolicyFileError, CheckpointMismatchError) as exc:
        print(str(exc), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    if outcome.stopped:
        done = ", ".join(map(str, sorted(outcome.report.partitions_done))) or "none"
        print(
            f"stopped; partitions done: {done}; saved to {options.checkpoint} "
            "(run again with --resume to go on)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(130)
    report = outcome.report
    if as_json:
        print(orjson.dumps(report_json(report, outcome.elapsed)).decode(), flush=True)
    else:
        print(render_report(report, show), flush=True)
        rate = report.records / outcome.elapsed if outcome.elapsed else 0.0
        print(f"({outcome.elapsed:.1f} s, {rate:,.0f} records/s)", flush=True)
    raise SystemExit(1 if report.mismatch_total else 0)


async def check_partition_counts() -> None:
    """Refuse (one line, exit 2) when the topics the replay reads by partition have another
    partition count than PITBOSS_PARTITIONS: every player would be looked for on the wrong
    partition, and the replay would find nothing to compare."""
    wanted = {spec.name: spec.partitions for spec in topic_specs(settings)}
    names = [settings.topics.table_events, settings.topics.journal]
    for info in await describe_topics(settings, names, with_configs=False):
        if info.exists and info.partitions != wanted[info.name]:
            raise click.ClickException(
                f"{info.name} has {info.partitions} partitions but PITBOSS_PARTITIONS is "
                f"{settings.partitions}: run with the deployment's settings"
            )


def _say_progress(progress: Progress) -> None:
    print(progress.line(), file=sys.stderr, flush=True)
