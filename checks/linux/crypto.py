"""Encryption at rest: the mount points the policy names sit on LUKS / dm-crypt."""
from __future__ import annotations

import fnmatch
from typing import Any

from checks.linux.ssh import CIS_WEAK_CIPHERS, CIS_WEAK_KEX, CIS_WEAK_MACS, WEAK_HOST_KEYS
from scanner.facts.linux import BlockDevices, CryptoPolicy, Mount, Mounts, SshClientConfig, Swaps
from scanner.model import Finding, Location, error, failed, manual, not_applicable, passed
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


# ----------------------------------------------------------- issue 14 part B: swap, /tmp, crypto policy, ssh client

#: Swap on these devices lives in RAM and is gone at power-off.
EPHEMERAL_SWAP = ("/dev/zram",)


def _storage(path: str, mounts: Mounts, devices: BlockDevices) -> tuple[str, dict[str, Any]]:
    """How the data at ``path`` is stored: "encrypted", "ephemeral" (tmpfs) or "plain", and what was seen."""
    mount = containing_mount(mounts, path)
    if mount is None:
        return "unknown", {"mount": None}
    observed: dict[str, Any] = {"mount": mount.target, "source": mount.source, "fstype": mount.fstype}
    if mount.fstype in ("tmpfs", "ramfs"):
        return "ephemeral", observed
    layer = encryption_layer(devices, mount.source)
    if layer:
        return "encrypted", {**observed, "crypt_device": layer}
    return "plain", observed


@check(id="linux.crypto.swap", title="Swap does not write memory to disk in clear", severity="medium",
       area="encryption",
       criterion="With require_encrypted_swap (true), every active swap area is on a dm-crypt device, in RAM (zram), "
                 "or a swap file on an encrypted or RAM filesystem; no swap at all passes.",
       remediation="Encrypt swap with a key made at each boot: a line 'cryptswap /dev/disk/by-partuuid/... "
                   "/dev/urandom swap,cipher=aes-xts-plain64,size=512' in /etc/crypttab and /dev/mapper/cryptswap in "
                   "/etc/fstab; or use zram swap; or place swap inside the LUKS volume.")
def swap(swaps: Swaps, mounts: Mounts, block_devices: BlockDevices, require_encrypted_swap: bool = True
         ) -> list[Finding]:
    if not require_encrypted_swap:
        return [not_applicable("swap", "the policy does not require encrypted swap (require_encrypted_swap false)")]
    if not swaps.devices:
        return [passed("swap", "no swap is active: memory is never paged to disk", devices=[])]
    findings = []
    for dev in swaps.devices:
        if dev.name.startswith(EPHEMERAL_SWAP):
            findings.append(passed(dev.name, f"{dev.name} is compressed RAM (zram), lost at power-off", type=dev.type))
            continue
        if dev.type == "file":
            how, observed = _storage(dev.name, mounts, block_devices)
        else:
            layer = encryption_layer(block_devices, dev.name)
            how, observed = ("encrypted" if layer else "plain"), {"crypt_device": layer}
        observed["type"] = dev.type
        if how in ("encrypted", "ephemeral"):
            findings.append(passed(dev.name, f"swap {dev.name} is {how}", **observed))
        elif how == "unknown":
            findings.append(error(dev.name, f"no mounted filesystem holds the swap file {dev.name}", **observed))
        else:
            findings.append(failed(dev.name, f"swap {dev.name} ({dev.type}) has no dm-crypt layer: memory pages, "
                                             "keys and passwords can reach the disk in clear", **observed))
    return findings


@check(id="linux.crypto.tmp", title="/tmp is ephemeral or encrypted", severity="low", area="encryption",
       criterion="With require_protected_tmp (true), /tmp is a tmpfs (gone at reboot) or on a dm-crypt device.",
       remediation="Mount /tmp as tmpfs (systemctl enable tmp.mount, or a tmpfs line in /etc/fstab with "
                   "nodev,nosuid,noexec), or keep it on the encrypted root volume.")
def tmp(mounts: Mounts, block_devices: BlockDevices, require_protected_tmp: bool = True) -> Finding:
    if not require_protected_tmp:
        return not_applicable("/tmp", "the policy does not require a protected /tmp (require_protected_tmp false)")
    how, observed = _storage("/tmp", mounts, block_devices)
    if how in ("encrypted", "ephemeral"):
        return passed("/tmp", f"/tmp is {how} ({observed.get('fstype')} on {observed.get('source')})", **observed)
    if how == "unknown":
        return error("/tmp", "no mounted filesystem holds /tmp", **observed)
    return failed("/tmp", f"/tmp is on {observed['source']} ({observed['fstype']}), neither tmpfs nor encrypted: "
                          "temporary copies of records outlive the session in clear", **observed)


@check(id="linux.crypto.system_policy", title="The system-wide crypto policy is not weakened", severity="medium",
       area="encryption",
       criterion="On hosts with crypto-policies (RHEL 8/9, Rocky, Alma, Fedora), the applied policy "
                 "(update-crypto-policies --show) is one of crypto_policies_allowed (DEFAULT, FUTURE, FIPS) with no "
                 "sub-policy from crypto_subpolicies_weak (SHA1, AD-SUPPORT, AD-SUPPORT-LEGACY); a configured policy "
                 "not yet applied is reported.",
       remediation="Run 'update-crypto-policies --set DEFAULT' (or FUTURE, or FIPS with fips-mode-setup --enable) and "
                   "restart the services or reboot; remove weakening sub-policies such as :SHA1.")
def system_policy(crypto_policy: CryptoPolicy,
                  crypto_policies_allowed: tuple[str, ...] = ("DEFAULT", "FUTURE", "FIPS"),
                  crypto_subpolicies_weak: tuple[str, ...] = ("SHA1", "AD-SUPPORT", "AD-SUPPORT-LEGACY")) -> Finding:
    if not crypto_policy.installed:
        return not_applicable("crypto policy", "no system-wide crypto policy (crypto-policies is a RHEL-family "
                                               "feature; SSH and TLS settings are checked per service)")
    name = crypto_policy.effective
    base, *subs = name.upper().split(":")
    allowed = {p.upper() for p in crypto_policies_allowed}
    weak = [s for s in subs if s in {w.upper() for w in crypto_subpolicies_weak}]
    observed: dict[str, Any] = {"configured": crypto_policy.configured, "applied": crypto_policy.applied,
                                "allowed": sorted(allowed)}
    where = crypto_policy.location
    pending = crypto_policy.applied and crypto_policy.applied.upper() != crypto_policy.configured.upper()
    note = f" (configured {crypto_policy.configured}, not applied yet)" if pending else ""
    if base not in allowed:
        return failed("crypto policy", f"crypto policy {name} is not one of {', '.join(sorted(allowed))}{note}",
                      location=where, **observed)
    if weak:
        return failed("crypto policy", f"crypto policy {name} is weakened by {', '.join(weak)}{note}",
                      location=where, **observed)
    return passed("crypto policy", f"crypto policy {name}{note}", location=where, **observed)


def _weak(config: SshClientConfig, key: str, patterns: Any) -> list[str]:
    items = patterns.split(",") if isinstance(patterns, str) else patterns
    pats = [str(p).strip().lower() for p in items if str(p).strip()]
    return [a for a in config.list(key) if any(fnmatch.fnmatchcase(a.lower(), p) for p in pats)]


@check(id="linux.crypto.ssh_client", title="Outbound SSH offers no weak algorithms", severity="medium",
       area="encryption",
       criterion="The effective system-wide SSH client configuration (ssh -G with /etc/ssh/ssh_config and its "
                 "drop-ins) enables no cipher in ssh_weak_ciphers, MAC in ssh_weak_macs or key exchange in "
                 "ssh_weak_kex (the same lists as linux.ssh.crypto) and no DSA host key algorithm.",
       remediation="Remove the weak names from Ciphers, MACs, KexAlgorithms and HostKeyAlgorithms in "
                   "/etc/ssh/ssh_config and /etc/ssh/ssh_config.d/ (or set them explicitly to strong lists); on RHEL "
                   "keep the crypto policy in charge and do not override it there.")
def ssh_client(ssh_client: SshClientConfig, ssh_weak_ciphers: tuple[str, ...] = CIS_WEAK_CIPHERS,
               ssh_weak_macs: tuple[str, ...] = CIS_WEAK_MACS, ssh_weak_kex: tuple[str, ...] = CIS_WEAK_KEX
               ) -> Finding:
    if not ssh_client.installed:
        return not_applicable("ssh client", "the OpenSSH client is not installed")
    lists = {"ciphers": ssh_weak_ciphers, "macs": ssh_weak_macs, "kexalgorithms": ssh_weak_kex,
             "hostkeyalgorithms": WEAK_HOST_KEYS}
    weak = {k: v for k, p in lists.items() if (v := _weak(ssh_client, k, p))}
    where = Location("/etc/ssh/ssh_config")
    if weak:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in weak.items())
        return failed("ssh client", f"outbound SSH enables weak algorithms: {listed}", location=where, weak=weak)
    return passed("ssh client", "outbound SSH enables no weak algorithm", location=where,
                  **{k: list(ssh_client.list(k)) for k in lists})
