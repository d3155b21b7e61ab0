"""The declared backup status (a status file or command saying when the last backup succeeded): one type for
Linux and Windows facts, in a module of its own so that a Windows scan does not load every Linux fact type.
``scanner.facts.linux`` re-exports both names."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

from scanner.value import frozen


class BackupStatusFormat(str, Enum):
    """How the declared status file or command says when the last backup succeeded."""

    MTIME = "mtime"  # the status file's modification time
    ISO8601 = "iso8601"  # the whole content is one ISO-8601 timestamp
    EPOCH = "epoch"  # the whole content is one number of seconds since 1970
    JSON = "json"  # a JSON document; ``field`` names the (dotted) key holding an ISO-8601 timestamp
    REGEX = "regex"  # a regular expression with a named group ``ts`` (ISO-8601) or ``epoch`` (seconds)


@frozen
class BackupStatus:
    declared: str | None  # "command", "file" or None when the inventory declares neither
    source: str  # the command or path
    last_success: datetime | None
    now: datetime | None  # the target's clock when collected
    detail: str = ""
    format: BackupStatusFormat | None = None
    matched: str = ""  # the text the timestamp was read from
