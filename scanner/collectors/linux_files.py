"""Owner and mode of files, from ``stat`` output."""
from __future__ import annotations

from scanner.collectors.linux_common import ParseError, Section, lines
from scanner.facts.linux import FileModes, FileStat
from scanner.model import Target, freeze

STAT_FORMAT = "%a|%u|%g|%U|%G|%F|%n"


def stat_each(paths: str) -> str:
    """Stats every path that exists in one ``stat`` call, and prints ``missing|path`` for the others."""
    return (f"set --; for p in {paths}; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then set -- \"$@\" \"$p\"; "
            "else printf 'missing|%s\\n' \"$p\"; fi; done; "
            f"if [ $# -gt 0 ]; then @{{stat}} -c '{STAT_FORMAT}' -- \"$@\"; fi")


def with_files(paths: str, command: str) -> str:
    """Runs ``command`` with ``"$@"`` set to those of ``paths`` (words or globs) that are readable regular files, and
    not at all when there are none: awk (mawk) stops at the first file it cannot open, such as an unmatched glob."""
    return (f"set --; for f in {paths}; do if [ -f \"$f\" ] && [ -r \"$f\" ]; then set -- \"$@\" \"$f\"; fi; "
            f"done; if [ $# -gt 0 ]; then {command}; fi")


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
