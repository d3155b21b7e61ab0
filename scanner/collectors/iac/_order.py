"""The order in which AWS would create resources of code: explicit ``depends_on`` (Terraform) and ``DependsOn``
(CloudFormation), followed transitively.

Only explicit ordering counts: two resources without a dependency may be created in any order (Terraform creates
them in parallel), so a resource that relies on another being applied first is proven only by a path of explicit
dependencies. Plan JSON and CloudFormation give them as data; for Terraform HCL ``hcl_depends_on`` reads the
``depends_on`` argument at the top level of each resource's own lines (outside strings, heredocs and comments).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from scanner.collectors.iac._values import Block
from scanner.connectors.iac import FileRefused, IacConnector

_ARGUMENT = re.compile(r"^\s*depends_on\s*=\s*\[")
_REFERENCE = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_MODULE = re.compile(r"(?:^|[.:])module\.[\w-]+$")
_HEREDOC = re.compile(r"<<-?\s*([A-Za-z_]\w*)\s*$")


def _depends_on_in(lines: list[str]) -> tuple[str, ...]:
    """The references of the top-level ``depends_on`` of one resource (its lines, header first)."""
    depth, heredoc, comment, found = 0, "", False, ""
    for i, line in enumerate(lines):
        if heredoc:
            heredoc = "" if line.strip() == heredoc else heredoc
            continue
        text = _STRING.sub('""', line)
        if comment:
            if "*/" not in text:
                continue
            comment, text = False, text.split("*/", 1)[1]
        text = re.split(r"#|//", text, maxsplit=1)[0]
        if "/*" in text:
            text, comment = text.split("/*", 1)[0], "*/" not in text.split("/*", 1)[1]
        if depth == 1 and not found and _ARGUMENT.match(text):
            rest = "\n".join([text, *lines[i + 1:]])
            found = rest[rest.index("[") + 1:].split("]", 1)[0]
            break
        depth += text.count("{") - text.count("}")
        opened = _HEREDOC.search(text)
        heredoc = opened.group(1) if opened else ""
    return tuple(dict.fromkeys(m.group(0) for m in _REFERENCE.finditer(found)))


def hcl_depends_on(conn: IacConnector, blocks: Iterable[Block]) -> None:
    """Sets ``depends_on`` of each HCL resource block from its source lines (the lines the parser read, else the
    file read once; only files with a ``depends_on`` at all); references are made absolute with the block's
    module prefix."""
    from scanner.collectors.iac._hcl import parsed_files

    parsed = parsed_files(conn)
    texts: dict[str, list[str]] = {}
    for b in blocks:
        loc = b.location
        if b.broken or loc.start_line is None or loc.end_line is None:
            continue
        if loc.path not in texts:
            f = parsed.get(loc.path)
            if f is not None:
                texts[loc.path] = f.lines if "depends_on" in f.text else []
            else:
                try:
                    text = conn.read(conn.root / loc.path).decode("utf-8", "replace")
                except FileRefused:
                    text = ""
                texts[loc.path] = text.split("\n") if "depends_on" in text else []
        lines = texts[loc.path][loc.start_line - 1:loc.end_line]
        if lines:
            own = b.address.split("[", 1)[0]
            prefix = own[:own.rfind(f"{b.type}.")] if f"{b.type}." in own else ""
            b.depends_on = tuple(prefix + r for r in _depends_on_in(lines))


class Order:
    """What each resource waits for, transitively (computed once per resource)."""

    def __init__(self, blocks: Iterable[Block]):
        self.blocks = list(blocks)
        self.by_base: dict[str, list[Block]] = {}
        for b in self.blocks:
            self.by_base.setdefault(b.address.split("[", 1)[0], []).append(b)
            self.by_base.setdefault(b.address, []).append(b)
        self._after: dict[str, frozenset[str]] = {}

    def _named(self, reference: str) -> list[Block]:
        named = self.by_base.get(reference)
        if named is not None:
            return named
        if _MODULE.search(reference):  # a whole module: every resource in it
            return [b for b in self.blocks if b.address.startswith(reference + ".")]
        return []

    def after(self, block: Block) -> frozenset[str]:
        """The addresses ``block`` is created after."""
        known = self._after.get(block.address)
        if known is not None:
            return known
        self._after[block.address] = frozenset()  # a cycle ends here (Terraform refuses cycles anyway)
        seen: set[str] = set()
        for reference in block.depends_on:
            for b in self._named(reference):
                seen.add(b.address)
                seen |= self.after(b)
        self._after[block.address] = frozenset(seen)
        return self._after[block.address]


def known_before(block: Block, values: Mapping[str, object]) -> bool:
    """Whether the plan's prior state already holds ``values`` for the resource (it exists before this apply)."""
    return block.before is not None and all(block.before.get(k) == v for k, v in values.items())
