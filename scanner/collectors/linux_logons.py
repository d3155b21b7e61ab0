"""Last logons: /var/log/lastlog, the record sshd (for terminal sessions) and login keep per uid.

The file is sparse and indexed by uid (one 292-byte record per uid, its first 4 bytes the logon time), so it is
never read whole: a host with directory uids in the billions has a file of hundreds of gigabytes that is nearly
all holes. The probe lists the first LASTLOG_CAP /etc/passwd accounts with the shell's own ``read``, reads the
file's first LASTLOG_WINDOW bytes in one ``od`` that ``awk`` joins with them, and a record beyond that window (a
high uid) with an ``od`` of its own 4 bytes. It prints ``L|<time>|<uid>|<name>`` (``N|<uid>|<name>`` beyond the
file's end: never), ``S|<size>`` and ``T|<passwd lines>``; ``M`` when the file does not exist, ``R`` when it
cannot be read, ``FAILED`` when ``od`` failed. Read only.
"""
from __future__ import annotations

from datetime import datetime, timezone

from scanner.collectors.linux_common import ParseError, Section, lines
from scanner.facts.linux import LastLogon, LastLogons
from scanner.model import Target

LASTLOG = "/var/log/lastlog"
LASTLOG_RECORD = 292  # glibc's struct lastlog: int32 time, 32-byte line, 256-byte host, on every Linux
LASTLOG_CAP = 1000
#: the first bytes of the file are read in one ``od``, for every account whose record lies there (uids up to about
#: 14,000); a record beyond (a directory uid in a sparse file) is read on its own
LASTLOG_WINDOW = 4 * 1024 * 1024
_JOIN = (
    f"$1 % {LASTLOG_RECORD} == 0 {{ t[$1 / {LASTLOG_RECORD}] = $2 }} "
    "END { if (bad) { print \"FAILED\"; exit } n = split(ENVIRON[\"A\"], a, \"\\n\"); "
    "for (i = 1; i <= n; i++) { if (a[i] == \"\") continue; "
    f"u = substr(a[i], 1, index(a[i], \"|\") - 1); o = u * {LASTLOG_RECORD}; "
    "if (!(o < ENVIRON[\"S\"] + 0)) print \"N|\" a[i]; "  # no '>' in the script: it writes nowhere
    "else if (o < ENVIRON[\"W\"] + 0) print \"L|\" ((u in t) ? t[u] : 0) \"|\" a[i]; else print \"F|\" a[i] } }"
)
LASTLOG_PROBE = (
    f"set -f; f={LASTLOG}; "
    "if [ ! -e $f ]; then echo M; exit 0; fi; "
    "if [ ! -f $f ] || [ ! -r $f ]; then echo R; exit 0; fi; "
    "s=0; if [ -s $f ]; then s=$(@{stat} -c %s $f) || exit 3; fi; printf 'S|%s\\n' \"$s\"; n=0; t=0; A=''; "
    "while IFS= read -r l || [ -n \"$l\" ]; do t=$((t + 1)); "
    "case $l in *:*:*:*:*:*:*:*) continue;; *:*:*:*:*:*:*) ;; *) continue;; esac; "
    "u=${l#*:}; u=${u#*:}; u=${u%%:*}; case $u in ''|*[!0-9]*) continue;; esac; "
    "while [ \"${u#0}\" != \"$u\" ] && [ -n \"${u#0}\" ]; do u=${u#0}; done; "
    f"[ ${{#u}} -lt 11 ] && [ $n -lt {LASTLOG_CAP} ] || continue; n=$((n + 1)); "
    "A=\"$A$u|${l%%:*}\n\"; done < /etc/passwd; "
    f"w=$s; [ $w -le {LASTLOG_WINDOW} ] || w={LASTLOG_WINDOW}; "
    f"{{ if [ $w -gt 0 ]; then @{{od}} -A d -t d4 -w{LASTLOG_RECORD} -v -N $w $f || echo FAILED; fi; }} | "
    f"A=$A S=$s W=$w @{{awk}} '/FAILED/ {{ bad = 1; exit }} {_JOIN}' | while IFS= read -r l; do case $l in "
    f"F*) r=${{l#F|}}; v=$(@{{od}} -A n -t d4 -j $(( ${{r%%[|]*}} * {LASTLOG_RECORD} )) -N 4 $f) || exit 3; "
    "printf 'L|%s|%s\\n' \"$v\" \"$r\";; *) printf '%s\\n' \"$l\";; esac; done; printf 'T|%s\\n' \"$t\""
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
        if line == "FAILED":
            raise ParseError(f"od could not read {LASTLOG}")
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
