"""Encryption at rest: the block device tree (lsblk -J, also read for swap areas) and the mounted filesystems
(findmnt -J)."""
from __future__ import annotations

import json
import re

from scanner.collectors.linux_common import NOT_FOUND, ParseError, Probe, Section, config_lines, fields, lines
from scanner.facts.linux import (
    BlockDevice,
    BlockDevices,
    CryptoPolicy,
    Mount,
    Mounts,
    SshClientConfig,
    Swap,
    Swaps,
)
from scanner.model import Location, Target, freeze

#: The block device tree with kernel names (KNAME): read once per batch, for the disks and for the swap areas.
LSBLK_PROBE = "@{lsblk} -J -p -o NAME,KNAME,TYPE,FSTYPE,MOUNTPOINT"


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


# ---------------------------------------------------------------- issue 14 part B: swap, crypto policy, ssh client


def _knames(probe: Probe) -> dict[str, str]:
    """Kernel name -> the name the block device tree uses, from the ``lsblk -J`` listing ({} when it failed: the
    names of /proc/swaps are then taken as they are)."""
    try:
        data = _json(probe, "lsblk -J")
    except ParseError:
        return {}
    out: dict[str, str] = {}

    def walk(nodes: list[dict[str, object]]) -> None:
        for node in nodes:
            kname, name = node.get("kname"), node.get("name")
            if isinstance(kname, str) and isinstance(name, str):
                out[kname] = name
            walk(_nodes(node.get("children")))

    walk(_nodes(data.get("blockdevices")) if isinstance(data, dict) else [])
    return out


def parse_swaps(section: Section, target: Target) -> Swaps:
    """/proc/swaps: a header line, then ``NAME TYPE SIZE USED PRIORITY`` per active swap area; device-mapper kernel
    names are replaced by the names the block device tree uses."""
    text = section.file("/proc/swaps")
    # /proc/swaps names a device-mapper swap by its kernel name (/dev/dm-1); the block device tree by its mapper
    # name (/dev/mapper/rhel-swap): the batch's one lsblk listing gives both
    knames = _knames(section.probe("lsblk"))
    rows = [line for line in lines(text) if line.strip(" \t")]
    if not rows or not rows[0].startswith("Filename"):
        raise ParseError("/proc/swaps has no 'Filename' header")
    out = []
    for line in rows[1:]:
        words = fields(line)
        if len(words) != 5:
            raise ParseError(f"/proc/swaps: unexpected line {line[:80]!r}")
        # the kernel escapes blanks and backslashes in the name as octal (\040)
        name = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), words[0])
        out.append(Swap(knames.get(name, name), words[1]))
    return Swaps(tuple(out))


CRYPTO_POLICY_CONFIG = "/etc/crypto-policies/config"
CRYPTO_POLICY_STATE = "/etc/crypto-policies/state/current"
_POLICY = re.compile(r"[A-Z0-9_-]+(:[A-Z0-9_-]+)*", re.I)


def parse_crypto_policy(section: Section, target: Target) -> CryptoPolicy:
    """The policy ``update-crypto-policies --show`` reports: the config file names it; state/current holds the one
    last applied. Read as files: the tool is a Python program and starting it costs more than the two reads."""
    section.require_readable("/etc/crypto-policies")
    config = section.text(CRYPTO_POLICY_CONFIG)
    if config is None:
        return CryptoPolicy(False, "", "")
    found = config_lines(config)
    if len(found) != 1 or not _POLICY.fullmatch(found[0][1]):
        raise ParseError(f"{CRYPTO_POLICY_CONFIG}: expected one policy name such as DEFAULT or DEFAULT:SHA1")
    applied = ""
    state = section.text(CRYPTO_POLICY_STATE)
    if state is not None:
        words = [w for _, w in config_lines(state)]
        if len(words) != 1 or not _POLICY.fullmatch(words[0]):
            raise ParseError(f"{CRYPTO_POLICY_STATE}: expected one policy name")
        applied = words[0]
    return CryptoPolicy(True, found[0][1], applied, Location(CRYPTO_POLICY_CONFIG, found[0][0]))


SSH_CLIENT_CONFIG = "/etc/ssh/ssh_config"
#: How far the Match exec guard follows Include (ssh itself stops at 16 levels) and how many files it reads at most.
SSH_INCLUDE_DEPTH = 16
SSH_INCLUDE_FILES = 64
#: One level of the guard: ``X<TAB>file`` for a Match line that names exec (in any case or form: refusing too much
#: is safe), ``I<TAB>pattern`` for every argument of an Include line (``Include=a b``, quotes removed).
_SSH_GUARD_AWK = (
    "{ l = $0; sub(/^[ \\t]+/, \"\", l); k = tolower(l); "
    "if (k ~ /^match([ \\t=]|$)/ && k ~ /exec/) print \"X\\t\" FILENAME; "
    "else if (k ~ /^include([ \\t=]|$)/) { sub(/^[^ \\t=]+[ \\t]*=?[ \\t]*/, \"\", l); gsub(/\"/, \"\", l); "
    "n = split(l, a, /[ \\t]+/); for (i = 1; i <= n; i++) if (a[i] != \"\") print \"I\\t\" a[i] } }"
)
#: ``ssh -G`` evaluates Match blocks, and ``Match exec`` runs a command: the collector only reads, so before it runs
#: ``ssh -G`` it reads every file ssh would (ssh_config and what its Include lines match, relative names under
#: /etc/ssh, to SSH_INCLUDE_DEPTH levels and SSH_INCLUDE_FILES files) and refuses (exit 3: the check is an error,
#: never a pass) on a Match exec, on a file it cannot check (not a readable regular file, over a bound), and on a
#: symlink in /etc/ssh that leads out of it (its target could change between this check and ssh -G).
SSH_CLIENT_PROBE = (
    "set -f; IFS='\n'; todo=" + SSH_CLIENT_CONFIG + "; seen='\n'; count=0; level=0; "
    "refuse() { printf 'refused: %s\\n' \"$1\"; exit 3; }; "
    "while [ -n \"$todo\" ]; do level=$((level + 1)); "
    f"if [ $level -gt {SSH_INCLUDE_DEPTH} ]; then refuse 'Include nested deeper than {SSH_INCLUDE_DEPTH} levels'; fi; "
    "set --; for f in $todo; do case $seen in *\"\n$f\n\"*) continue;; esac; seen=\"$seen$f\n\"; "
    f"count=$((count + 1)); if [ $count -gt {SSH_INCLUDE_FILES} ]; then "
    f"refuse 'Include matches more than {SSH_INCLUDE_FILES} files'; fi; "
    "if [ -L \"$f\" ]; then case $f in /etc/ssh/*) t=$(@{readlink} -f -- \"$f\"); case $t in /etc/ssh/*) ;; "
    "*) refuse \"$f is a symlink out of /etc/ssh\";; esac;; esac; fi; "
    "if [ ! -f \"$f\" ] || [ ! -r \"$f\" ]; then refuse \"$f is not a readable regular file\"; fi; "
    "set -- \"$@\" \"$f\"; done; "
    "if [ $# -eq 0 ]; then break; fi; "
    f"out=$(@{{awk}} '{_SSH_GUARD_AWK}' \"$@\") || refuse 'awk could not read the configuration'; todo=; "
    "for l in $out; do case $l in "
    "X*) refuse \"${l#X\t} has Match exec, which ssh -G would run\";; "
    "I*) p=${l#I\t}; case $p in /*) ;; *) p=/etc/ssh/$p;; esac; set +f; "
    "for g in $p; do if [ -e \"$g\" ] || [ -L \"$g\" ]; then todo=\"$todo$g\n\"; fi; done; set -f;; "
    "esac; done; done; "
    "@{ssh} -F " + SSH_CLIENT_CONFIG + " -G gxpscan-outbound-probe.invalid")


def parse_ssh_client(section: Section, target: Target) -> SshClientConfig:
    probe = section.probe("ssh_G")
    if probe.rc == NOT_FOUND:
        return SshClientConfig(False)
    if not probe.ok:
        raise ParseError(probe.reason("ssh -G"))
    options: dict[str, list[str]] = {}
    for line in lines(probe.text()):
        words = fields(line, 1)
        if words:
            options.setdefault(words[0].lower(), []).append(words[1] if len(words) > 1 else "")
    if "ciphers" not in options or "macs" not in options:
        raise ParseError("ssh -G printed no ciphers/macs: not an ssh client configuration dump")
    return SshClientConfig(True, freeze({k: tuple(v) for k, v in options.items()}))
