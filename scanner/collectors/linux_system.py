"""``linux.system``: the system under test, from os-release and uname (in the same batch as every other fact)."""
from __future__ import annotations

from scanner.collectors.linux_common import ParseError, Section, lines
from scanner.facts.system import SystemUnderTest
from scanner.model import Target


def _os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, the value optionally quoted; split on \\n only."""
    out = {}
    for line in lines(text):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[key.strip()] = value
    return out


def parse_system(section: Section, target: Target) -> SystemUnderTest:
    probe = section.probe("uname")
    if not probe.ok:
        raise ParseError(probe.reason("uname"))
    words = [w for line in lines(probe.text()) for w in line.split()]
    if len(words) != 3:
        raise ParseError(f"uname -n -r -m printed {len(words)} words, not 3 (host name, kernel release, machine)")
    hostname, kernel, machine = words
    text = section.text("/etc/os-release") or section.text("/usr/lib/os-release")
    if text is None:
        raise ParseError("neither /etc/os-release nor /usr/lib/os-release could be read")
    release = _os_release(text)
    name = release.get("NAME") or release.get("ID")
    if not name:
        raise ParseError("os-release names no operating system (NAME, ID)")
    return SystemUnderTest.of(
        platform="linux", hostname=hostname, os=name,
        os_version=release.get("VERSION_ID") or release.get("VERSION") or release.get("BUILD_ID") or "unknown",
        kernel=kernel, machine=machine, os_pretty=release.get("PRETTY_NAME", name))
