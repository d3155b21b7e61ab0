"""Encryption at rest: the block device tree (lsblk -J) and the mounted filesystems (findmnt -J)."""
from __future__ import annotations

import json

from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.facts.linux import BlockDevice, BlockDevices, Mount, Mounts
from scanner.model import Target


def _json(probe: Probe, label: str) -> object:
    if not probe.ok:
        raise ParseError(probe.reason(label))
    try:
        data: object = json.loads(probe.out)
    except ValueError as exc:
        raise ParseError(f"{label}: not JSON ({exc})") from None
    return data


def _nodes(value: object) -> list[dict[str, object]]:
    return [n for n in value if isinstance(n, dict)] if isinstance(value, list) else []


def _str(value: object) -> str:
    return str(value) if value else ""


def parse_block_devices(section: Section, target: Target) -> BlockDevices:
    data = _json(section.probe("lsblk"), "lsblk -J")
    if not isinstance(data, dict) or not isinstance(data.get("blockdevices"), list):
        raise ParseError("lsblk -J: no 'blockdevices' list")
    out: list[BlockDevice] = []

    def walk(nodes: list[dict[str, object]], parents: tuple[str, ...]) -> None:
        for node in nodes:
            mps = node.get("mountpoints") or ([node.get("mountpoint")] if "mountpoint" in node else [])
            name = _str(node.get("name"))
            out.append(BlockDevice(name, _str(node.get("type")), _str(node.get("fstype")),
                                   tuple(str(m) for m in (mps if isinstance(mps, list) else []) if m), parents))
            walk(_nodes(node.get("children")), (name, *parents))

    walk(_nodes(data["blockdevices"]), ())
    return BlockDevices(tuple(out))


def parse_mounts(section: Section, target: Target) -> Mounts:
    data = _json(section.probe("findmnt"), "findmnt -J")
    if not isinstance(data, dict) or not isinstance(data.get("filesystems"), list):
        raise ParseError("findmnt -J: no 'filesystems' list")
    out: list[Mount] = []

    def walk(nodes: list[dict[str, object]]) -> None:
        for node in nodes:
            out.append(Mount(_str(node.get("target")), _str(node.get("source")),
                             _str(node.get("fstype")), _str(node.get("options"))))
            walk(_nodes(node.get("children")))

    walk(_nodes(data["filesystems"]))
    return Mounts(tuple(out))
