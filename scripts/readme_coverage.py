"""Rewrite the README's framework-coverage section from the catalogs (checks/frameworks/*.yaml)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.frameworks import coverage_markdown, load_catalogs  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def main() -> None:
    text = README.read_text()
    body = coverage_markdown(load_catalogs()).strip()
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _m: f"{START}\n{body}\n{END}", text, flags=re.S)
    README.write_text(new)
    print("README coverage section", "updated" if new != text else "already current")


if __name__ == "__main__":
    main()
