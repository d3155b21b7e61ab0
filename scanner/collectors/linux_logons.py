"""Last logons: /var/log/lastlog, the record sshd (for terminal sessions) and login keep per uid.

The file is sparse and indexed by uid (one 292-byte record per uid, its first 4 bytes the logon time), so it is
never read whole: a host with directory uids in the billions has a file of hundreds of gigabytes that is nearly
all holes. The probe reads /etc/passwd with the shell's own ``read``, and 4 bytes at each account's record with
``od`` only where the file reaches (a fresh, empty lastlog starts no program), for the first LASTLOG_CAP accounts.
It prints ``L|<time>|<uid>|<name>`` (``N|<uid>|<name>`` beyond the file's end: never), ``S|<size>`` and
``T|<passwd lines>``; ``M`` when the file does not exist, ``R`` when it cannot be read. Read only.
"""
from __future__ import annotations

from datetime import datetime, timezone

from scanner.collectors.linux_common import ParseError, Section, lines
from scanner.facts.linux import LastLogon, LastLogons
from scanner.model import Target

LASTLOG = "/var/log/lastlog"
LASTLOG_RECORD = 292  # glibc's struct lastlog: int32 time, 32-byte line, 256-byte host, on every Linux
LASTLOG_CAP = 1000
LASTLOG_PROBE = (
    f"set -f; f={LASTLOG}; "
    "if [ ! -e $f ]; then echo M; exit 0; fi; "
    "if [ ! -f $f ] || [ ! -r $f ]; then echo R; exit 0; fi; "
    "s=0; if [ -s $f ]; then s=$(@{stat} -c %s $f) || exit 3; fi; printf 'S|%s\\n' \"$s\"; n=0; t=0; "
    "while IFS= read -r l || [ -n \"$l\" ]; do t=$((t + 1)); "
    "case $l in *:*:*:*:*:*:*:*) continue;; *:*:*:*:*:*:*) ;; *) continue;; esac; "
    "u=${l#*:}; u=${u#*:}; u=${u%%:*}; case $u in ''|*[!0-9]*) continue;; esac; "
    "while [ \"${u#0}\" != \"$u\" ] && [ -n \"${u#0}\" ]; do u=${u#0}; done; "
    f"[ ${{#u}} -lt 11 ] && [ $n -lt {LASTLOG_CAP} ] || continue; n=$((n + 1)); o=$((u * {LASTLOG_RECORD})); "
    "if [ $o -lt $s ]; then v=$(@{od} -A n -t d4 -j $o -N 4 $f) || exit 3; "
    "printf 'L|%s|%s|%s\\n' \"$v\" \"$u\" \"${l%%:*}\"; else printf 'N|%s|%s\\n' \"$u\" \"${l%%:*}\"; fi; "
    "done < /etc/passwd; printf 'T|%s\\n' \"$t\""
)


def _logon(rest: str, at: datetime | None) -> LastLogon:
    uid, sep, name = rest.partition("|")
    if not sep or not uid.isdigit():
        raise ParseError(f"unexpected lastlog listing line: {rest[:80]!r}")
    return LastLogon(name, int(uid), at)


def parse_last_logons(section: Section, target: Target) -> LastLogons:
    probe = section.probe("lastlog")
    if not probe.ok:
        raise ParseError(probe.reason(f"read {LASTLOG}"))
    logons: list[LastLogon] = []
    size = total = None
    for line in lines(probe.text()):
        kind, _, rest = line.partition("|")
        if line == "M":
            raise ParseError(f"{LASTLOG} does not exist: no last logons are recorded on this host (Debian 13 and "
                             "later keep them in lastlog2's database, which this version does not read)")
        if line == "R":
            raise ParseError(f"cannot read {LASTLOG} (permission denied or not a regular file)")
        if kind == "S" and rest.isdigit():
            size = int(rest)
        elif kind == "T" and rest.isdigit():
            total = int(rest)
        elif kind == "N":
            logons.append(_logon(rest, None))
        elif kind == "L":
            stamp, _, who = rest.partition("|")
            seconds = stamp.strip()
            if not seconds.lstrip("-").isdigit() or int(seconds) < 0:
                raise ParseError(f"{LASTLOG}: a record's time is not a number of seconds: {seconds[:40]!r}")
            logons.append(_logon(who, datetime.fromtimestamp(int(seconds), timezone.utc) if int(seconds) else None))
        elif line:
            raise ParseError(f"unexpected lastlog listing line: {line[:80]!r}")
    if size is None or total is None:
        raise ParseError(f"the {LASTLOG} listing is incomplete (no file size or account count)")
    return LastLogons(LASTLOG, tuple(logons), total, LASTLOG_CAP)
