"""Owner and mode of files, from ``stat`` output."""
from __future__ import annotations

from scanner.collectors.linux_common import ParseError, Section, lines
from scanner.facts.linux import FileModes, FileStat
from scanner.model import Target, freeze

STAT_FORMAT = "%a|%u|%g|%U|%G|%F|%n"


def stat_each(paths: str) -> str:
    """A shell loop that stats each path, or prints ``missing|path``."""
    return (f"for p in {paths}; do @{{stat}} -c '{STAT_FORMAT}' -- \"$p\" 2>/dev/null "
            "|| printf 'missing|%s\\n' \"$p\"; done")


def stat_lines(text: str) -> dict[str, FileStat | None]:
    out: dict[str, FileStat | None] = {}
    for line in lines(text):
        if not line:
            continue
        if line.startswith("missing|"):
            out[line.split("|", 1)[1]] = None
            continue
        parts = line.split("|", 6)
        if len(parts) != 7:
            raise ParseError(f"unexpected stat output: {line[:80]!r}")
        try:
            out[parts[6]] = FileStat(parts[6], int(parts[0], 8), int(parts[1]), int(parts[2]),
                                     parts[3], parts[4], parts[5])
        except ValueError:
            raise ParseError(f"unexpected stat output: {line[:80]!r}") from None
    return out


def parse_file_modes(section: Section, target: Target) -> FileModes:
    probe = section.probe("stat")
    if not probe.ok:
        raise ParseError(probe.reason("stat"))
    files = stat_lines(probe.text())
    if not files:
        raise ParseError("stat printed nothing")
    return FileModes(freeze(files))
