"""Rewrite ``@decorator def f(...)`` at module level as ``def f(...)`` followed by ``f = decorator(f)``.

mutmut 3 leaves decorated functions alone (it cannot put its trampoline under a decorator), and every check is a
decorated function. Applying the decorator after the definition is the same program (a decorator is sugar for
that assignment), so scripts/mutation.sh runs this over the copy of checks/ it mutates: the check bodies are
mutated and the registry still finds every check. Only the copy is rewritten, never the work tree.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


def undecorate(source: str) -> str:
    """The module with every decorated top-level function's decorators moved below it (innermost first)."""
    lines = source.split("\n")
    tree = ast.parse(source)
    # bottom-up, so earlier line numbers stay valid while later functions are edited
    for node in sorted((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and n.decorator_list), key=lambda n: n.lineno, reverse=True):
        first = node.decorator_list[0].lineno - 1  # the '@' line of the outermost decorator (0-based)
        def_line = node.lineno - 1
        texts = [ast.get_source_segment(source, d) or "" for d in node.decorator_list]
        end = node.end_lineno or node.lineno
        applied = node.name
        for text in reversed(texts):  # the decorator nearest the def applies first
            applied = f"({text})({applied})"
        lines[end:end] = [f"{node.name} = {applied}"]
        del lines[first:def_line]
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    for name in paths:
        for path in sorted(Path(name).rglob("*.py")) if Path(name).is_dir() else [Path(name)]:
            text = path.read_text()
            new = undecorate(text)
            if new != text:
                path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
