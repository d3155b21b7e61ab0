"""Owner and mode of files, from ``stat`` output."""
from __future__ import annotations

from scanner.collectors.linux_common import ParseError, Probe, Section, lines
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


# ---------------------------------------------------------------- many small files in one process

def dump_files(paths: tuple[str, ...], only: str = "") -> str:
    """The content of many small files in one ``awk`` (``show`` runs two processes per file): ``F<TAB>path`` for
    each readable file in order, ``U<TAB>path`` for one that exists but cannot be read (or a directory a glob
    could not be listed in), then ``<file number><TAB><line number><TAB><line>``; every line says where it comes
    from, so no content can pose as another file's. ``only`` (an awk condition) keeps just the lines a parser needs,
    so nothing else of a file (a token in root's .bashrc, say) reaches the evidence."""
    awk = ("BEGIN { for (i = 1; i < ARGC; i++) n[ARGV[i]] = i } "
           + (only or "1") + " { print n[FILENAME] \"\\t\" FNR \"\\t\" $0 }")
    return ("set --; for f in " + " ".join(paths) + "; do case $f in *'*'*) d=${f%/*}; "
            "if [ -d \"$d\" ] && { [ ! -r \"$d\" ] || [ ! -x \"$d\" ]; }; then printf 'U\\t%s\\n' \"$d\"; fi; "
            "continue;; esac; if [ -f \"$f\" ]; then if [ -r \"$f\" ]; then set -- \"$@\" \"$f\"; "
            "else printf 'U\\t%s\\n' \"$f\"; fi; fi; done; for f in \"$@\"; do printf 'F\\t%s\\n' \"$f\"; done; "
            f"if [ $# -gt 0 ]; then @{{awk}} '{awk}' \"$@\"; fi")


def dumped(probe: Probe, label: str, sparse: bool = False) -> Section:
    """The files a ``dump_files`` probe printed, as a Section (``files`` and ``unreadable``). ``sparse``: the probe
    kept only some lines; the others come back empty, so every line keeps its number."""
    if not probe.ok:
        raise ParseError(probe.reason(label))
    order: list[str] = []
    unreadable: set[str] = set()
    content: dict[int, list[tuple[int, str]]] = {}
    for line in lines(probe.out.decode("utf-8", "replace")):
        kind, _, rest = line.partition("\t")
        if kind == "F":
            order.append(rest)
        elif kind == "U":
            unreadable.add(rest)
        elif kind.isdigit() and 0 < int(kind) <= len(order):
            number, _, text = rest.partition("\t")
            if not number.isdigit():
                raise ParseError(f"{label}: unexpected line {line[:80]!r}")
            content.setdefault(int(kind), []).append((int(number), text))
        elif line:
            raise ParseError(f"{label}: unexpected line {line[:80]!r}")
    files: dict[str, bytes | None] = {}
    for i, path in enumerate(order, 1):
        numbered = sorted(content.get(i, []))
        if sparse:
            known = dict(numbered)
            numbered = [(n, known.get(n, "")) for n in range(1, max(known, default=0) + 1)]
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise ParseError(f"{label}: the lines of {path} are incomplete")
        files[path] = "".join(text + "\n" for _, text in numbered).encode()
    return Section(files=files, unreadable=frozenset(unreadable))
