"""The fake ServiceNow instance's tables: incident, sys_user, sys_user_group,
sys_journal_field and sys_audit, as records of raw string values, with ServiceNow's encoded
queries (the operators the desk uses), dot-walked fields, and what a save does to an
incident: a number, journal entries for comments and work notes, an audit row per changed
field with the update's checkpoint (inserts are not audited, ServiceNow's default), and the
out-of-box data policy that a resolved or closed incident has a close code and notes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Record = dict[str, str]
Listener = Callable[[str, str, Record, list[str]], None]  # table, operation, record, changed
REFERENCES = {"caller_id": "sys_user", "assigned_to": "sys_user", "opened_by": "sys_user",
              "assignment_group": "sys_user_group"}  # fmt: skip
JOURNAL = ("comments", "work_notes")
INCIDENT_DEFAULTS = {
    "state": "1", "urgency": "3", "impact": "3", "priority": "5", "category": "inquiry",
    "caller_id": "", "assigned_to": "", "assignment_group": "", "short_description": "",
    "description": "", "correlation_id": "", "correlation_display": "", "close_code": "",
    "close_notes": "", "opened_by": "",
}  # fmt: skip
OPERATORS = "ISNOTEMPTY|ISEMPTY|STARTSWITH|LIKE|IN|!=|>=|<=|=|>|<"
TERM = re.compile(rf"^([a-z_][a-z0-9_.]*?)({OPERATORS})(.*)$", re.DOTALL)


class QueryError(ValueError):
    """An encoded query the fake cannot read (ServiceNow would silently ignore it)."""


class DataPolicyError(ValueError):
    pass


class Tables:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.rows: dict[str, dict[str, Record]] = {
            t: {} for t in ("incident", "sys_user", "sys_user_group", "sys_journal_field",
                            "sys_audit")}  # fmt: skip
        self.listeners: list[Listener] = []
        self._number = 10000

    def stamp(self) -> str:
        return self.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _new(self, table: str, fields: Record, by: str) -> Record:
        at = self.stamp()
        record = {"sys_id": uuid.uuid4().hex, "sys_created_on": at, "sys_created_by": by,
                  "sys_updated_on": at, "sys_updated_by": by, "sys_mod_count": "0",
                  **fields}  # fmt: skip
        self.rows[table][record["sys_id"]] = record
        return record

    def add_user(self, user_name: str, email: str, name: str, roles: str = "") -> Record:
        return self._new("sys_user", {"user_name": user_name, "email": email, "name": name,
                                      "roles": roles}, "system")  # fmt: skip

    def add_group(self, name: str) -> Record:
        return self._new("sys_user_group", {"name": name}, "system")

    def user(self, user_name: str) -> Record:
        return next(u for u in self.rows["sys_user"].values() if u["user_name"] == user_name)

    def incident(self, number: str) -> Record:
        return next(i for i in self.rows["incident"].values() if i["number"] == number)

    # --- reading ----------------------------------------------------------------------------

    def value(self, record: Record, path: str) -> str:
        """A field's raw value, following dot-walks through references."""
        name, _, rest = path.partition(".")
        if name not in record and name not in REFERENCES:
            raise QueryError(f"no field {name!r}")
        raw = record.get(name, "")
        if not rest:
            return raw
        target = self.rows[REFERENCES[name]].get(raw) if name in REFERENCES else None
        return "" if target is None else self.value(target, rest)

    def query(self, table: str, encoded: str) -> list[Record]:
        terms = [t.replace("\0", "^") for t in encoded.replace("^^", "\0").split("^") if t]
        found = list(self.rows[table].values())
        orders: list[tuple[str, bool]] = []
        for term in terms:
            if term.startswith("ORDERBYDESC"):
                orders.append((term[11:], True))
            elif term.startswith("ORDERBY"):
                orders.append((term[7:], False))
            else:
                found = [r for r in found if self._holds(r, term)]
        for field, descending in reversed(orders):
            found.sort(key=lambda r, f=field: self.value(r, f), reverse=descending)  # type: ignore[misc]
        return found

    def _holds(self, record: Record, term: str) -> bool:
        match = TERM.match(term)
        if match is None:
            raise QueryError(f"cannot read the term {term!r}")
        field, op, wanted = match.groups()
        have = self.value(record, field)
        tests: dict[str, Callable[[], bool]] = {
            "=": lambda: have == wanted, "!=": lambda: have != wanted,
            "IN": lambda: have in wanted.split(","), "STARTSWITH": lambda: have.startswith(wanted),
            "LIKE": lambda: wanted in have, "ISEMPTY": lambda: have == "",
            "ISNOTEMPTY": lambda: have != "", ">": lambda: have > wanted,
            ">=": lambda: have >= wanted, "<": lambda: have < wanted, "<=": lambda: have <= wanted,
        }  # fmt: skip
        return tests[op]()

    # --- writing ----------------------------------------------------------------------------

    def insert(self, table: str, fields: dict[str, Any], by: str) -> Record:
        values = {k: str(v) for k, v in fields.items()}
        journal = {k: values.pop(k) for k in JOURNAL if k in values}
        if table == "incident":
            self._number += 1
            values = {**INCIDENT_DEFAULTS, "number": f"INC{self._number:07d}", **values}
            self._policy(values)
            values["priority"] = _priority(values)
        record = self._new(table, values, by)
        for element, text in journal.items():
            self._journal(record, element, text, by)
        self._tell(table, "insert", record, [])
        return record

    def update(self, table: str, sys_id: str, fields: dict[str, Any], by: str) -> Record:
        record = self.rows[table][sys_id]
        values = {k: str(v) for k, v in fields.items()}
        for name in values:
            if name not in record and name not in JOURNAL:
                raise QueryError(f"no field {name!r}")
        journal = {k: values.pop(k) for k in JOURNAL if values.get(k)}
        changed = [k for k, v in values.items() if record.get(k) != v]
        after = {**record, **values}
        if table == "incident":
            self._policy(after)
            after["priority"] = _priority(after)
        if not changed and not journal:
            return record
        count = str(int(record["sys_mod_count"]) + 1)
        for name in changed:
            self._audit(record, name, record.get(name, ""), values[name], count, by)
        for element, text in journal.items():
            self._audit(record, element, "", text, count, by)
        record.update(after, sys_mod_count=count, sys_updated_on=self.stamp(), sys_updated_by=by)
        for element, text in journal.items():
            self._journal(record, element, text, by)
        self._tell(table, "update", record, changed)
        return record

    def _policy(self, values: Record) -> None:
        if values.get("state") in {"6", "7"} and not (values.get("close_code")
                                                      and values.get("close_notes")):  # fmt: skip
            raise DataPolicyError("Data Policy Exception: Resolution code, Resolution notes")

    def _journal(self, record: Record, element: str, text: str, by: str) -> None:
        entry = self._new("sys_journal_field", {"element": element, "element_id": record["sys_id"],
                                                "name": "incident", "value": text}, by)  # fmt: skip
        self._tell("sys_journal_field", "insert", entry, [])

    def _audit(self, record: Record, field: str, old: str, new: str, count: str, by: str) -> None:
        self._new("sys_audit", {"tablename": "incident", "documentkey": record["sys_id"],
                                "fieldname": field, "oldvalue": old, "newvalue": new,
                                "user": by, "record_checkpoint": count}, by)  # fmt: skip

    def _tell(self, table: str, operation: str, record: Record, changed: list[str]) -> None:
        for listener in self.listeners:
            listener(table, operation, record, changed)


def _priority(values: Record) -> str:
    """ServiceNow's default priority lookup from urgency and impact."""
    return str(min(5, int(values["urgency"]) + int(values["impact"]) - 1))
