"""The reviewer's decisions, read back from the review's CSV (decision and comment columns filled) or from YAML,
and validated against the review: every row names an account of the review (system and id, and its name as
shown), a known decision (keep, remove, change), a comment for remove and change, once; and every account of the
review is decided. Every fault is collected and named by file and line; nothing is recorded unless all is right.

YAML form (a list)::

    - {system: host1, id: "uid:1001", account: alice, decision: keep, comment: ""}
    - {system: host1, id: "uid:1002", account: bob, decision: remove, comment: "left the company, HR-1234"}
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scanner.access.review import AccountDecision, Decision, Review

#: Largest decisions file read (a 10,000-account review's CSV is about 3 MB).
MAX_DECISIONS_BYTES = 64 * 1024 * 1024
#: At most this many undecided accounts are named one by one.
NAMED_UNDECIDED = 20


class DecisionError(ValueError):
    """The decisions file is not acceptable; ``problems`` are "file:line: what", every one found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the decisions: " + "; ".join(self.problems[:3]))


@dataclass(frozen=True)
class RawDecision:
    """One row as the file gives it (cells already decoded), before validation."""

    source: str  # file:line
    system: str
    id: str
    account: str | None  # None: the file does not name it (YAML may leave it out)
    decision: str
    comment: str


def read_text(path: str | Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(MAX_DECISIONS_BYTES + 1)
    if len(data) > MAX_DECISIONS_BYTES:
        raise DecisionError([f"{path}: larger than {MAX_DECISIONS_BYTES} bytes; not a decisions file"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecisionError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None


def parse_yaml(text: str, name: str) -> list[RawDecision]:
    """The rows of a YAML decisions file, each with its line."""
    import yaml

    from scanner.yamlload import YamlError, compose_yaml

    try:
        root = compose_yaml(text)
    except YamlError as exc:
        raise DecisionError([f"{name}:{exc.line or 1}: {exc.problem}"]) from None
    if not isinstance(root, yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise DecisionError([f"{name}:{line}: not a list of decisions"])
    out, problems = [], []
    for item in root.value:
        where = f"{name}:{item.start_mark.line + 1}"
        if not isinstance(item, yaml.MappingNode):
            problems.append(f"{where}: not a mapping (system, id, account, decision, comment)")
            continue
        values: dict[str, str] = {}
        for key, value in item.value:
            if not isinstance(value, yaml.ScalarNode):
                problems.append(f"{name}:{value.start_mark.line + 1}: {key.value}: not a single value")
                continue
            if key.value not in ("system", "id", "account", "decision", "comment"):
                problems.append(f"{name}:{key.start_mark.line + 1}: unknown key {key.value[:60]!r}")
                continue
            values[key.value] = "" if value.tag.endswith(":null") else str(value.value)
        missing = [k for k in ("system", "id", "decision") if k not in values]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        out.append(RawDecision(where, values["system"], values["id"], values.get("account"), values["decision"],
                               values.get("comment", "")))
    if problems:
        raise DecisionError(problems)
    return out


def _same(text: str) -> str:
    return text


def validate(review: Review, raw: Iterable[RawDecision], shown: Callable[[str], str] = _same) -> list[
        AccountDecision]:
    """Every row checked against ``review``; DecisionError with every problem, else one decision per account.
    ``shown``: how the file shows a value (the CSV shows controls escaped); a row may give either form."""
    accounts = {a.key: a for a in review.accounts()}
    as_shown = {(shown(a.system), shown(a.id)): a for a in accounts.values()}
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    blank: set[tuple[str, str]] = set()
    out = []
    for d in raw:
        a = accounts.get((d.system, d.id)) or as_shown.get((d.system, d.id))
        if a is None:
            problems.append(f"{d.source}: unknown account: no account with id {d.id[:80]!r} on system "
                            f"{d.system[:80]!r} in review {review.review_id}")
            continue
        key = a.key
        if d.account is not None and d.account not in (a.name, shown(a.name)):
            problems.append(f"{d.source}: the account with id {d.id[:80]!r} on {d.system[:80]!r} is "
                            f"{a.name[:80]!r}, not {d.account[:80]!r} (a row edited or moved?)")
            continue
        if key in seen:
            problems.append(f"{d.source}: a second decision for {a.name[:80]!r} on {d.system[:80]!r} (first at "
                            f"{seen[key]})")
            continue
        seen[key] = d.source
        text = d.decision.strip().lower()
        if not text:
            blank.add(key)
            continue  # undecided: named below with every other undecided account
        try:
            decision = Decision(text)
        except ValueError:
            problems.append(f"{d.source}: unknown decision {d.decision[:40]!r} for {a.name[:80]!r}: write keep, "
                            "remove or change")
            continue
        comment = d.comment.strip()
        if decision.needs_comment and not comment:
            problems.append(f"{d.source}: decision {decision.value} for {a.name[:80]!r} needs a comment (why, and "
                            "the ticket or request)")
            continue
        out.append(AccountDecision(a.system, a.id, a.name, decision, comment, d.source))
    undecided = [a for k, a in accounts.items() if k not in seen or k in blank]
    if undecided:
        names = ", ".join(f"{a.system}/{a.name} ({a.id})" for a in undecided[:NAMED_UNDECIDED])
        more = f" and {len(undecided) - NAMED_UNDECIDED} more" if len(undecided) > NAMED_UNDECIDED else ""
        problems.append(f"{len(undecided)} account(s) of the review have no decision: {names}{more}")
    if problems:
        raise DecisionError(problems)
    return out
