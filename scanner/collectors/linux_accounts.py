"""Local accounts: /etc/passwd, /etc/group and /etc/shadow (hashes redacted on the host)."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import ParseError, Section, lines, to_int
from scanner.facts.linux import GroupEntry, Groups, Passwd, PasswdEntry, Shadow, ShadowEntry
from scanner.model import Target

#: crypt(3) prefix -> scheme name. No prefix (13 characters) is traditional DES.
HASH_SCHEMES = {"1": "md5", "2a": "bcrypt", "2b": "bcrypt", "2y": "bcrypt", "5": "sha256", "6": "sha512",
                "7": "scrypt", "y": "yescrypt", "gy": "gost-yescrypt", "sha1": "sha1crypt", "md5": "sunmd5"}

#: Prints /etc/shadow with every hash replaced by its crypt prefix and the word HASH: no hash leaves the host.
SHADOW_REDACTED = (
    "@{awk} -F: 'BEGIN { OFS = \":\" } { h = $2; l = \"\"; "
    "while (substr(h, 1, 1) == \"!\") { l = l \"!\"; h = substr(h, 2) } "
    "if (h == \"\") r = \"\"; else if (substr(h, 1, 1) == \"*\") r = \"*\"; "
    "else if (match(h, /^[$][^$]*[$]/)) r = substr(h, 1, RLENGTH) \"HASH\"; else r = \"HASH\"; "
    "$2 = l r; print }' /etc/shadow"
)


def colon_rows(text: str, fields: int, what: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(lines(text), 1):
        if not line.strip() or line.startswith("#") or line[:1] in "+-":
            continue  # NIS compat lines are not local accounts
        parts = line.split(":")
        if len(parts) != fields:
            raise ParseError(f"{what} line {n}: expected {fields} colon-separated fields, got {len(parts)}")
        rows.append(parts)
    return rows


def parse_passwd(section: Section, target: Target) -> Passwd:
    rows = colon_rows(section.file("/etc/passwd"), 7, "/etc/passwd")
    try:
        return Passwd(tuple(PasswdEntry(r[0], r[1], int(r[2]), int(r[3]), r[5], r[6]) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/passwd: bad uid or gid ({exc})") from None


def parse_group(section: Section, target: Target) -> Groups:
    rows = colon_rows(section.file("/etc/group"), 4, "/etc/group")
    try:
        return Groups(tuple(GroupEntry(r[0], int(r[2]), tuple(m for m in r[3].split(",") if m)) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/group: bad gid ({exc})") from None


def hash_state(field_: str) -> tuple[str, str | None]:
    """The collector redacts hashes on the target: '$6$HASH', '!$y$HASH', 'HASH', '*', '!', ''."""
    locked = field_.startswith("!")
    body = field_.lstrip("!")
    if body == "":
        return ("disabled" if locked else "empty"), None
    if body.startswith("*"):
        return "disabled", None
    m = re.fullmatch(r"\$([^$]+)\$HASH", body)
    if m:
        scheme = HASH_SCHEMES.get(m.group(1), f"unknown(${m.group(1)}$)")
    elif body == "HASH":
        scheme = "des"
    else:
        raise ParseError("shadow password field is not in the redacted form the collector produces")
    return ("locked" if locked else "hash"), scheme


def parse_shadow(section: Section, target: Target) -> Shadow:
    probe = section.probe("shadow")
    if not probe.ok:
        raise ParseError(probe.reason("read /etc/shadow"))
    entries = []
    for r in colon_rows(probe.text(), 9, "/etc/shadow"):
        state, scheme = hash_state(r[1])
        ages = [to_int(v) for v in r[2:8]]
        entries.append(ShadowEntry(r[0], state, scheme, *ages))
    if not entries:
        raise ParseError("/etc/shadow is empty")
    return Shadow(tuple(entries))
