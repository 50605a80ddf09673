"""The state of a fake Jira Service Management site: Atlassian users, one service desk with
its request types, requests (Jira issues) with their workflow, comments public and internal,
entity properties and changelog; and the subset of JQL the desk uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# id -> (name, category): a JSM IT service workflow, its first status "Waiting for support"
STATUSES = {
    "10001": ("Waiting for support", "new"), "3": ("In Progress", "indeterminate"),
    "10002": ("Waiting for customer", "indeterminate"),
    "5": ("Resolved", "done"), "6": ("Closed", "done"),
}  # fmt: skip
TRANSITION_NAMES = {"10001": "Respond to support", "3": "Start work", "10002": "Ask customer",
                    "5": "Resolve this issue", "6": "Close"}  # fmt: skip
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
REQUEST_TYPE_FIELD = "customfield_10010"


def jira_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def adf(text: str) -> dict[str, Any]:
    content = [{"type": "paragraph", "content": [{"type": "text", "text": line}]}
               for line in text.split("\n") if line]  # fmt: skip
    return {"type": "doc", "version": 1, "content": content}


@dataclass
class Issue:
    id: str
    key: str
    request_type: str
    reporter: str
    summary: str
    description: str
    priority: str
    created: datetime
    updated: datetime
    creator: str = ""
    status: str = "10001"
    assignee: str | None = None
    participants: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JsmSiteState:
    now: Callable[[], datetime]
    project: str = "ITS"
    desk_id: str = "4"
    request_types: dict[str, str] = field(default_factory=lambda: {
        "11": "Get IT help", "12": "Request access", "13": "Report a security incident",
        "14": "Fix an account problem", "15": "Report broken hardware",
    })  # fmt: skip
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)
    _seq: int = 0

    def next_id(self) -> str:
        self._seq += 1
        return str(10000 + self._seq)

    def add_user(self, email: str, name: str) -> str:
        account = f"5b10ac8d82e05b22cc7d{len(self.users):04d}"
        self.users[account] = {"accountId": account, "emailAddress": email, "displayName": name,
                               "accountType": "atlassian", "active": True,
                               "timeZone": "UTC"}  # fmt: skip
        return account

    def account(self, email: str) -> str:
        return next(a for a, u in self.users.items() if u["emailAddress"] == email)

    def user(self, account: str | None) -> dict[str, Any] | None:
        if account is None:
            return None
        u = self.users[account]
        return {k: u[k] for k in ("accountId", "emailAddress", "displayName", "active")}

    def create(self, type_id: str, reporter: str, summary: str, description: str,
               priority: str = "Medium", creator: str | None = None) -> Issue:  # fmt: skip
        now = self.now()
        issue_id = self.next_id()
        key = f"{self.project}-{len(self.issues) + 1}"
        issue = Issue(issue_id, key, type_id, reporter, summary, description, priority, now, now,
                      creator or reporter)  # fmt: skip
        self.issues[key] = issue
        return issue

    def change(self, issue: Issue, author: str, field_id: str, old: str | None, new: str | None,
               old_text: str | None, new_text: str | None) -> dict[str, Any]:  # fmt: skip
        now = self.now()
        item = {"field": field_id, "fieldtype": "jira", "fieldId": field_id, "from": old,
                "fromString": old_text, "to": new, "toString": new_text}  # fmt: skip
        history = {"id": self.next_id(), "author": self.user(author), "created": jira_time(now),
                   "items": [item]}  # fmt: skip
        issue.histories.append(history)
        issue.updated = now
        return history

    def transition(self, issue: Issue, author: str, to: str) -> dict[str, Any]:
        old = issue.status
        issue.status = to
        return self.change(issue, author, "status", old, to, STATUSES[old][0], STATUSES[to][0])

    def assign(self, issue: Issue, author: str, account: str | None) -> dict[str, Any]:
        old, issue.assignee = issue.assignee, account
        names = [self.users[a]["displayName"] if a else None for a in (old, account)]
        return self.change(issue, author, "assignee", old, account, names[0], names[1])

    def prioritise(self, issue: Issue, author: str, name: str) -> dict[str, Any]:
        old, issue.priority = issue.priority, name
        return self.change(issue, author, "priority", PRIORITIES[old], PRIORITIES[name], old, name)

    def comment(self, issue: Issue, author: str, body: str, public: bool) -> dict[str, Any]:
        now = self.now()
        comment = {"id": self.next_id(), "body": body, "public": public, "author": author,
                   "created": now}  # fmt: skip
        issue.comments.append(comment)
        issue.updated = now
        return comment

    # --- how the APIs show them ---------------------------------------------------------

    def status_of(self, status_id: str) -> dict[str, Any]:
        name, category = STATUSES[status_id]
        return {"id": status_id, "name": name,
                "statusCategory": {"key": category, "name": category.title()}}  # fmt: skip

    def platform_comment(self, c: dict[str, Any]) -> dict[str, Any]:
        return {"id": c["id"], "author": self.user(c["author"]), "body": adf(c["body"]),
                "created": jira_time(c["created"]), "updated": jira_time(c["created"]),
                "jsdPublic": c["public"]}  # fmt: skip

    def fields(self, issue: Issue) -> dict[str, Any]:
        comments = [self.platform_comment(c) for c in issue.comments]
        return {
            "summary": issue.summary, "description": adf(issue.description),
            "reporter": self.user(issue.reporter), "creator": self.user(issue.creator),
            "assignee": self.user(issue.assignee),
            "priority": {"id": PRIORITIES[issue.priority], "name": issue.priority},
            "status": self.status_of(issue.status), "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "comment": {"comments": comments, "total": len(comments),
                        "maxResults": len(comments), "startAt": 0},
            REQUEST_TYPE_FIELD: {"requestType": {"id": issue.request_type,
                                                 "name": self.request_types[issue.request_type]}},
        }  # fmt: skip

    def issue_json(self, issue: Issue, fields: str, properties: str = "",
                   changelog: bool = False) -> dict[str, Any]:  # fmt: skip
        every = self.fields(issue)
        wanted = fields.split(",") if fields and not fields.startswith("*") else list(every)
        body: dict[str, Any] = {"id": issue.id, "key": issue.key,
                                "fields": {f: every[f] for f in wanted if f in every}}  # fmt: skip
        if properties:
            body["properties"] = {p: issue.properties[p] for p in properties.split(",")
                                  if p in issue.properties}  # fmt: skip
        if changelog:
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(issue.histories),
                "total": len(issue.histories),
                "histories": issue.histories,
            }
        return body

    def request_json(self, issue: Issue) -> dict[str, Any]:
        name, category = STATUSES[issue.status]
        return {
            "issueId": issue.id, "issueKey": issue.key, "requestTypeId": issue.request_type,
            "serviceDeskId": self.desk_id, "reporter": self.user(issue.reporter),
            "createdDate": {"iso8601": jira_time(issue.created),
                            "epochMillis": int(issue.created.timestamp() * 1000)},
            "currentStatus": {"status": name, "statusCategory": category.upper()},
            "requestFieldValues": [
                {"fieldId": "summary", "label": "Summary", "value": issue.summary},
                {"fieldId": "description", "label": "Description", "value": issue.description},
            ],
        }  # fmt: skip

    def desk_comment(self, c: dict[str, Any]) -> dict[str, Any]:
        return {"id": c["id"], "body": c["body"], "public": c["public"],
                "author": self.user(c["author"]),
                "created": {"iso8601": jira_time(c["created"]),
                            "epochMillis": int(c["created"].timestamp() * 1000)}}  # fmt: skip

    # --- JQL: clauses joined by AND, one (a OR b) group, ORDER BY one field -----------------

    def search(self, jql: str) -> list[Issue]:
        parts = re.split(r"\s+ORDER BY\s+", jql, maxsplit=1, flags=re.I)
        where, order = parts[0], parts[1] if len(parts) > 1 else "created ASC"
        found = [i for i in self.issues.values() if self._all(where, i)]
        by, _, direction = order.partition(" ")
        found.sort(key=lambda i: (getattr(i, by.strip()), int(i.id)),
                   reverse=direction.strip().upper() == "DESC")  # fmt: skip
        return found

    def _all(self, where: str, issue: Issue) -> bool:
        terms = re.split(r"\s+AND\s+(?![^(]*\))", where.strip())
        return all(self._any(term, issue) for term in terms if term)

    def _any(self, term: str, issue: Issue) -> bool:
        term = term.strip()
        if term.startswith("(") and term.endswith(")"):
            return any(self._one(t, issue) for t in re.split(r"\s+OR\s+", term[1:-1]))
        return self._one(term, issue)

    def _one(self, clause: str, issue: Issue) -> bool:
        match = re.fullmatch(r"(.+?)\s*(>=|=)\s*(.+)", clause.strip())
        if match is None:
            raise ValueError(f"the fake's JQL does not know {clause!r}")
        name, op, value = match.group(1).strip(), match.group(2), match.group(3).strip().strip('"')
        if name == "project":
            return value == self.project
        if name.startswith("issue.property["):
            prop, _, path = name[len("issue.property[") :].partition("].")
            return str((issue.properties.get(prop) or {}).get(path)) == value
        if name == "reporter":
            return issue.reporter == value
        if name == '"Request participants"':
            return value in issue.participants
        if name in {"updated", "created"} and op == ">=":
            since = datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            return bool(getattr(issue, name) >= since)
        raise ValueError(f"the fake's JQL does not know {clause!r}")
