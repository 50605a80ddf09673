"""Time from launching `itdesk serve` to `/healthz` answering ok, for generated orgs of
5,000 and 10,000 people (`bench/bigorg.py`), with the embedded redis-server and the web chat
on a free port.

    .venv/bin/python -m bench.startup [--people 5000 10000] [--rounds 3]

Cold is an empty data directory: the org file is parsed, the world seeded, the intent model
fitted. Cached starts again on the data directory a cold start left: the org's stored copy,
the kept world and the stored model. Prints the seconds until the port first answers (it
says "starting") and until `/healthz` is ok, the median of `--rounds` starts and the
slowest. No assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from bench.bigorg import big_org_document

ROOT = Path(__file__).resolve().parents[1]
GIVE_UP_AFTER = 600.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).with_name("itdesk")
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from bot.cli import main; main()", "serve"]


def _environment(org_file: Path, data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env |= {
        "ITDESK_ORG_FILE": str(org_file),
        "ITDESK_DATA_DIR": str(data_dir),
        "ITDESK_HOST": "127.0.0.1",
        "ITDESK_PORT": str(port),
        "ITDESK_WEB_CHAT": "true",
        "ITDESK_LOG_LEVEL": "WARNING",
    }
    return env


def _health(url: str) -> int | None:
    """The status `/healthz` answers with; None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def start_once(org_file: Path, data_dir: Path) -> tuple[float, float]:
    """Launch `itdesk serve`; seconds until the port answers, and until `/healthz` is ok."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    log = data_dir.with_suffix(".log")
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _command(),
            env=_environment(org_file, data_dir, port),
            cwd=data_dir.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listening: float | None = None
    try:
        while time.perf_counter() - started < GIVE_UP_AFTER:
            status = _health(url)
            if status is not None and listening is None:
                listening = time.perf_counter() - started
            if status == 200:
                return listening or 0.0, time.perf_counter() - started
            if proc.poll() is not None:
                error = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"itdesk serve exited {proc.returncode}: {error}")
            time.sleep(0.01)
        raise RuntimeError(f"no ok from {url} in {GIVE_UP_AFTER:.0f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _figures(runs: list[tuple[float, float]]) -> str:
    listening, ok = [r[0] for r in runs], [r[1] for r in runs]
    return (
        f"listening {statistics.median(listening):6.2f} s   "
        f"healthz ok {statistics.median(ok):6.2f} s (slowest {max(ok):6.2f} s)"
    )


def _bench(people: int, rounds: int, work: Path) -> None:
    org_file = work / f"org-{people}.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    org_file.write_text(yaml.dump(big_org_document(people), Dumper=dumper, sort_keys=False))
    cold: list[tuple[float, float]] = []
    for n in range(rounds):
        data_dir = work / f"data-{people}-{n}"
        cold.append(start_once(org_file, data_dir))
        if n:  # the first one's data directory is what the cached starts use
            shutil.rmtree(data_dir)
    cached = [start_once(org_file, work / f"data-{people}-0") for _ in range(rounds)]
    print(f"{people:>6} people  cold     {_figures(cold)}")
    print(f"{people:>6} people  cached   {_figures(cached)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"rounds: {args.rounds} per figure (itdesk serve, embedded redis-server, web chat)")
    with tempfile.TemporaryDirectory(prefix="itdesk-startup-") as tmp:
        for people in args.people:
            _bench(people, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
