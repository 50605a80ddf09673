"""The `itdesk` command line. Exit happens here and only here."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.settings import Settings, SettingsError, load_settings

DEMO_ORG = Path(__file__).resolve().parent.parent / "examples" / "acme.yaml"


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        click.echo(f"itdesk: {exc}", err=True)
        sys.exit(2)


@click.group()
@click.version_option(package_name="itdesk")
def main() -> None:
    """itdesk: an autonomous IT service desk for Slack, Teams and the web."""


@main.command()
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--org",
    "org_file",
    type=click.Path(path_type=Path),
    default=None,
    help="sandbox org file (default: examples/acme.yaml)",
)
def demo(port: int, org_file: Path | None) -> None:
    """Run the desk locally: embedded Redis, a sandbox org, web chat on 127.0.0.1."""
    from bot.app import serve

    settings = _settings(port=port, log_format="console", log_level="WARNING")
    _run_desk(serve(settings, org_file=org_file or DEMO_ORG))


@main.command()
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True,
    help="worker processes taking turns from the inbox, this one included",
)  # fmt: skip
def serve(workers: int) -> None:
    """Run the desk configured from ITDESK_* variables (see README)."""
    from bot.app import serve as run

    _run_desk(run(_settings(), workers=workers))


@main.command()
def worker() -> None:
    """Take turns from the inbox of a desk that `itdesk serve` runs (same ITDESK_* settings,
    with ITDESK_REDIS_URL naming its Redis); runs until stopped."""
    from bot.app import work

    _run_desk(work(_settings()))


def _run_desk(running: Coroutine[Any, Any, None]) -> None:
    """Run a desk process until Ctrl-C; an invalid org file is reported and exits 2."""
    from bot.org import OrgFileError

    try:
        asyncio.run(running)
    except OrgFileError as exc:
        click.echo(f"itdesk: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


@main.group()
def scenarios() -> None:
    """Scenario suites: scripted conversations with expected end states."""


@scenarios.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def scenarios_run(paths: tuple[Path, ...], as_json: bool) -> None:
    """Run scenario files or folders; exit 0 all passed, 1 some failed, 2 invalid file."""
    from bot.scenarios.cli import run_suite

    sys.exit(asyncio.run(run_suite(list(paths), as_json=as_json, settings=_settings())))


@main.group()
def audit() -> None:
    """The hash-chained audit trail."""


@audit.command("verify")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="verify an exported JSONL file instead of the live trail",
)
def audit_verify(file: Path | None) -> None:
    """Recompute the chain under the audit key and compare it with its head and the signed
    checkpoints; exit 0 intact, 1 broken (each problem named), 2 bad input."""
    from bot.auditcli import verify

    sys.exit(asyncio.run(verify(_settings(), file)))


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head into the checkpoint file now (only if the chain verifies)."""
    from bot.auditcli import checkpoint

    sys.exit(asyncio.run(checkpoint(_settings())))


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO date or time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit.command("reconcile")
@click.option("--since", required=True, callback=_moment, help="start (ISO date or time, UTC)")
@click.option("--until", default=None, callback=_moment, help="end (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def audit_reconcile(since: datetime, until: datetime | None, as_json: bool) -> None:
    """Compare what the backends changed with the audited actions; exit 0 when they agree,
    1 with the findings listed."""
    from bot.auditcli import reconcile_window

    until = until or datetime.now(UTC)
    sys.exit(asyncio.run(reconcile_window(_settings(), since, until, as_json=as_json)))


@audit.command("export")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="file to write (default: standard output)",
)
def audit_export(out: Path | None) -> None:
    """Write the audit trail as JSON lines."""
    from bot.auditcli import export

    sys.exit(asyncio.run(export(_settings(), out)))


@main.group()
def nlu() -> None:
    """The understanding: intents, slots and confidence for messages in a file."""


_ORG_OPTION = click.option(
    "--org",
    "org_file",
    type=click.Path(path_type=Path),
    default=None,
    help="org whose catalogue fills the slots (default: examples/acme.yaml)",
)


@nlu.command("predict")
@click.argument("file", type=click.Path(path_type=Path))
@_ORG_OPTION
def nlu_predict(file: Path, org_file: Path | None) -> None:
    """Read lines {"text": ...}; write {"text","intent","confidence","queue","slots"} lines."""
    from bot.nlucli import predict_file
    from bot.observability import configure_logging

    settings = _settings(log_level="ERROR")
    configure_logging("ERROR", "console", stream=sys.stderr)  # stdout carries the JSON lines
    sys.exit(asyncio.run(predict_file(file, org_path=org_file or DEMO_ORG, settings=settings)))


@nlu.command("eval")
@click.argument("file", type=click.Path(path_type=Path))
@_ORG_OPTION
def nlu_eval(file: Path, org_file: Path | None) -> None:
    """Accuracy, per-intent precision/recall and confusions on lines {"text","intent"}."""
    from bot.nlucli import eval_file

    sys.exit(eval_file(file, org_path=org_file or DEMO_ORG))


@main.group()
def policy() -> None:
    """Policy as code: the Cedar files that decide what the desk may do."""


@policy.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def policy_check(directory: Path | None) -> None:
    """Validate the policy files against the Cedar schema and the desk's annotations."""
    from bot.policy import check, default_policy_dir

    folder = directory or default_policy_dir()
    problems = check(folder)
    if problems:
        click.echo(f"{folder}: {len(problems)} problem(s)", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    files = sorted(p.name for p in folder.glob("*.cedar"))
    click.echo(f"{folder}: {len(files)} policy files valid against schema.cedarschema")


if __name__ == "__main__":
    main()
