"""sudo: the sudoers file and the drop-ins sudo reads."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import Section, config_lines
from scanner.facts.linux import Sudoers, SudoLine
from scanner.model import Target


def _sudoers_included(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "." not in name and not name.endswith("~")  # sudo skips such files in an includedir


def parse_sudoers(section: Section, target: Target) -> Sudoers:
    section.require_readable("/etc/sudoers")
    main = section.text("/etc/sudoers")
    if main is None:
        return Sudoers(installed=False)
    found = []
    for path in ["/etc/sudoers"] + [p for p in section.present("/etc/sudoers.d/") if _sudoers_included(p)]:
        text = re.sub(r"\\\n", " ", section.text(path) or "")
        for n, line in config_lines(text, comment="\0"):
            # '#' starts a comment, except an include and a rule whose user list begins with a uid ('#1001 ...')
            if line.startswith("#") and not re.match(r"#(include(dir)?\s|[0-9]+[ \t,])", line):
                continue
            found.append(SudoLine(path, n, line))
    return Sudoers(installed=True, lines=tuple(found))
