"""Encryption at rest: the mount points the policy names sit on LUKS / dm-crypt."""
from __future__ import annotations

from typing import Any

from scanner.facts.linux import BlockDevices, Mount, Mounts
from scanner.model import Finding, failed, manual, passed
from scanner.registry import check


def containing_mount(mounts: Mounts, path: str) -> Mount | None:
    """The mount that holds ``path``: the longest mount target that is a prefix of it."""
    path = path.rstrip("/") or "/"
    best = None
    for m in mounts.mounts:
        t = m.target.rstrip("/") or "/"
        if (path == t or path.startswith(t + "/") or t == "/") and (best is None or len(t) >= len(best.target)):
            best = m
    return best


def encryption_layer(devices: BlockDevices, source: str) -> str | None:
    """The dm-crypt device under ``source`` (itself or an ancestor), or None."""
    for dev in devices.by_name(source.split("[", 1)[0]):
        for name in dev.names:
            if devices.type_of(name) == "crypt":
                return name
    return None


@check(id="linux.crypto.disk_encryption", title="Regulated data sits on encrypted volumes", severity="high",
       area="encryption",
       criterion="Every mount point named in the policy's encrypted_mounts is on a LUKS/dm-crypt device.",
       remediation="Move the data onto a LUKS-encrypted volume (cryptsetup luksFormat, then a filesystem on the "
                   "opened mapping, listed in /etc/crypttab), or list in encrypted_mounts only what must be "
                   "encrypted.")
def disk_encryption(mounts: Mounts, block_devices: BlockDevices,
                    encrypted_mounts: tuple[str, ...] = ()) -> list[Finding]:
    if not encrypted_mounts:
        return [manual("encrypted_mounts", "the policy names no encrypted_mounts: list the mount points that hold "
                                           "regulated data so their encryption can be verified")]
    findings = []
    for path in encrypted_mounts:
        mount = containing_mount(mounts, path)
        if mount is None:
            findings.append(failed(path, f"no mounted filesystem holds {path}"))
            continue
        observed: dict[str, Any] = {"mount": mount.target, "source": mount.source, "fstype": mount.fstype}
        layer = encryption_layer(block_devices, mount.source)
        if layer:
            findings.append(passed(path, f"{path} is on {mount.source}, encrypted by dm-crypt {layer}",
                                   crypt_device=layer, **observed))
        else:
            findings.append(failed(path, f"{path} is on {mount.source} ({mount.fstype}) with no dm-crypt layer",
                                   **observed))
    return findings
