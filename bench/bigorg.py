"""A large sandbox org for load and start-up benches: Acme's people, groups, software and
runbooks, plus `n` generated employees, each with a manager, a department, a laptop and a
push factor. Deterministic for a given `n`.

    python -m bench.bigorg 5000 var/bench/org-5000.yaml   # write it for `itdesk serve`
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import yaml

from bot.org import Org, parse_org

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme.yaml"
FIRST = ("Ada", "Bea", "Cal", "Dov", "Eli", "Fay", "Gus", "Hal", "Ivo", "Jon", "Kai", "Lia",
         "Mo", "Nia", "Oto", "Pia", "Quy", "Rui", "Sol", "Tam", "Uma", "Vik", "Wes", "Xia",
         "Yan", "Zed")  # fmt: skip
LAST = ("Abbott", "Berg", "Cruz", "Dahl", "Engel", "Frost", "Gale", "Hoyt", "Imre", "Jost",
        "Kern", "Lund", "Marr", "Nash", "Orr", "Pike", "Quill", "Rusk", "Stahl")  # fmt: skip
DEPARTMENTS = ("Engineering", "Sales", "Finance", "Operations", "Marketing", "Support")
TEAM = 8  # reports per manager


def big_org_document(n: int) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(ACME.read_text(encoding="utf-8"))
    doc["name"] = f"Acme Robotics ({n} more people)"
    users: dict[str, Any] = doc["users"]
    names = itertools.product(LAST, FIRST, range(1, n + 1))
    made: list[str] = []
    for i in range(n):
        last, first, _ = next(names)
        username = f"u{i:05d}"
        manager = made[(i - 1) // TEAM] if i else "marcus"
        users[username] = {
            "name": f"{first} {last} {i}",
            "email": f"{username}@{doc['domain']}",
            "manager": manager,
            "department": DEPARTMENTS[i % len(DEPARTMENTS)],
            "title": "Specialist",
            "factors": ["push"],
            "groups": ["all-staff"],
            "devices": [f"NB-{100000 + i}"],
        }
        doc["devices"][f"NB-{100000 + i}"] = {
            "owner": username, "os": "macos" if i % 2 else "windows", "installed": ["slack"],
            "compliant": True,
        }  # fmt: skip
        made.append(username)
    return doc


def big_org(n: int) -> Org:
    return parse_org(big_org_document(n), f"bigorg({n})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("people", type=int)
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(yaml.safe_dump(big_org_document(args.people), sort_keys=False))
    print(f"wrote {args.path}: {len(big_org(args.people).users)} people")


if __name__ == "__main__":
    main()
