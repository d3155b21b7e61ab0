"""Start-up of a scan (issues 9 and 10): what it compiles and imports, counted, never timed."""
from __future__ import annotations

import re

import yaml

from scanner import yamlload


def test_non_printable_is_pyyaml_s_class_over_every_code_point() -> None:
    """``yamlload._NON_PRINTABLE`` is written as the few ranges PyYAML's reader refuses (its negated class took
    10 ms to compile, in every scan that reads an inventory): the same characters, all 1,114,112 of them."""
    everything = "".join(map(chr, range(0x110000)))
    pyyaml: re.Pattern[str] = yaml.reader.Reader.NON_PRINTABLE
    ours = [m.start() for m in yamlload._NON_PRINTABLE.finditer(everything)]
    assert ours == [m.start() for m in pyyaml.finditer(everything)]
    assert len(ours) == 2111 and ours[:3] == [0, 1, 2] and 0x85 not in ours and 0xFFFE in ours
