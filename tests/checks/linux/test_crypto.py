"""The encryption checks on small facts, asserting status, message and observed values: logic survivors of
checks/linux/crypto.py under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

from typing import Any

import pytest

from checks.linux import crypto
from scanner.facts.linux import BlockDevice, BlockDevices, CryptoPolicy, Mount, Mounts, SshClientConfig, Swap, Swaps
from scanner.model import Finding, Location, Status, freeze, thaw


def seen(f: Finding) -> tuple[Status, str, str, dict[str, Any]]:
    return f.status, f.resource, f.message, thaw(f.observed)


#: /dev/sda2 holds the LUKS mapping "data"; everything else is plain
DEVICES = BlockDevices((
    BlockDevice("/dev/sda", "disk", "", (), ()),
    BlockDevice("/dev/sda1", "part", "ext4", ("/",), ("/dev/sda",)),
    BlockDevice("/dev/sda2", "part", "crypto_LUKS", (), ("/dev/sda",)),
    BlockDevice("/dev/mapper/data", "crypt", "btrfs", ("/data",), ("/dev/sda2", "/dev/sda")),
    BlockDevice("/dev/sdb1", "part", "xfs", ("/dataX",), ()),
))


def mount(target: str, source: str = "/dev/sda1", fstype: str = "ext4") -> Mount:
    return Mount(target, source, fstype, "rw")


ROOT = mount("/")
DATA = mount("/data", "/dev/mapper/data", "btrfs")


@pytest.mark.parametrize(("path", "target"), [
    ("/", "/"), ("/data", "/data"), ("/data/", "/data"), ("/data/records", "/data"),
    ("/database", "/"),  # a prefix that is not a whole path component
    ("/dataX", "/dataX"), ("/dataX/y", "/dataX"),
    ("/srv/x", "/srv/"),  # a target written with a trailing slash
    ("/opt/x", "/"), ("/opt ", "/opt "),  # a trailing space names another directory
])
def test_containing_mount_is_the_longest_whole_component_prefix(path: str, target: str) -> None:
    mounts = Mounts((ROOT, DATA, mount("/dataX", "/dev/sdb1"), mount("/srv/", "/dev/sdc1"),
                     mount("/opt ", "/dev/sdd1")))
    got = crypto.containing_mount(mounts, path)
    assert got is not None and got.target == target


def test_of_two_mounts_on_one_target_the_later_one_holds_the_path() -> None:
    plain_under = mount("/data", "/dev/sdb1", "xfs")
    assert crypto.containing_mount(Mounts((ROOT, plain_under, DATA)), "/data/x") is DATA
    assert crypto.containing_mount(Mounts((ROOT, DATA, plain_under)), "/data/x") is plain_under


@pytest.mark.parametrize(("source", "layer"), [
    ("/dev/mapper/data", "/dev/mapper/data"), ("/dev/mapper/data[/@records]", "/dev/mapper/data"),
    ("/dev/mapper/data[/snap[1]]", "/dev/mapper/data"),  # a btrfs subvolume whose name has a bracket
    ("/dev/sda1", None), ("/dev/sda1[/@]", None),
])
def test_encryption_layer_reads_the_device_before_a_subvolume(source: str, layer: str | None) -> None:
    assert crypto.encryption_layer(DEVICES, source) == layer


def test_disk_encryption_judges_every_named_path_after_one_without_a_mount() -> None:
    got = crypto.disk_encryption(Mounts((DATA,)), DEVICES, encrypted_mounts=("/srv", "/data/records"))
    assert [seen(f) for f in got] == [
        (Status.FAIL, "/srv", "no mounted filesystem holds /srv", {}),
        (Status.PASS, "/data/records", "/data/records is on /dev/mapper/data, encrypted by dm-crypt /dev/mapper/data",
         {"crypt_device": "/dev/mapper/data", "mount": "/data", "source": "/dev/mapper/data", "fstype": "btrfs"})]


#: the swap areas -> each one's status, message and observed values, with encrypted swap required by default
@pytest.mark.parametrize(("swaps", "mounts", "expected"), [
    ((Swap("/dev/zram0", "partition"), Swap("/dev/sda3", "partition")), (ROOT,), [
        (Status.PASS, "/dev/zram0", "/dev/zram0 is compressed RAM (zram), lost at power-off", {"type": "partition"}),
        (Status.FAIL, "/dev/sda3", "swap /dev/sda3 (partition) has no dm-crypt layer: memory pages, keys and "
         "passwords can reach the disk in clear", {"crypt_device": None, "type": "partition"})]),
    ((Swap("/dev/mapper/data", "partition"),), (ROOT,), [
        (Status.PASS, "/dev/mapper/data", "swap /dev/mapper/data is encrypted",
         {"crypt_device": "/dev/mapper/data", "type": "partition"})]),
    ((Swap("/data/swapfile", "file"), Swap("/run/swapfile", "file")), (ROOT, DATA, mount("/run", "tmpfs", "tmpfs")), [
        (Status.PASS, "/data/swapfile", "swap /data/swapfile is encrypted",
         {"mount": "/data", "source": "/dev/mapper/data", "fstype": "btrfs", "crypt_device": "/dev/mapper/data",
          "type": "file"}),
        (Status.PASS, "/run/swapfile", "swap /run/swapfile is ephemeral",
         {"mount": "/run", "source": "tmpfs", "fstype": "tmpfs", "type": "file"})]),
    ((Swap("/swapfile", "file"),), (DATA,), [
        (Status.ERROR, "/swapfile", "no mounted filesystem holds the swap file /swapfile",
         {"mount": None, "type": "file"})]),
    ((Swap("/swapfile", "file"),), (ROOT,), [
        (Status.FAIL, "/swapfile", "swap /swapfile (file) has no dm-crypt layer: memory pages, keys and passwords "
         "can reach the disk in clear", {"mount": "/", "source": "/dev/sda1", "fstype": "ext4", "type": "file"})]),
])
def test_swap_areas_each_judged_by_kind(swaps: tuple[Swap, ...], mounts: tuple[Mount, ...],
                                        expected: list[tuple[Status, str, str, dict[str, Any]]]) -> None:
    assert [seen(f) for f in crypto.swap(Swaps(swaps), Mounts(mounts), DEVICES)] == expected


@pytest.mark.parametrize(("mounts", "expected"), [
    ((ROOT, mount("/tmp", "tmpfs", "tmpfs")), (Status.PASS, "/tmp is ephemeral (tmpfs on tmpfs)",
                                               {"mount": "/tmp", "source": "tmpfs", "fstype": "tmpfs"})),
    ((ROOT, mount("/tmp", "none", "ramfs")), (Status.PASS, "/tmp is ephemeral (ramfs on none)",
                                              {"mount": "/tmp", "source": "none", "fstype": "ramfs"})),
    ((ROOT, mount("/tmp", "/dev/mapper/data", "btrfs")), (
        Status.PASS, "/tmp is encrypted (btrfs on /dev/mapper/data)",
        {"mount": "/tmp", "source": "/dev/mapper/data", "fstype": "btrfs", "crypt_device": "/dev/mapper/data"})),
    ((ROOT,), (Status.FAIL, "/tmp is on /dev/sda1 (ext4), neither tmpfs nor encrypted: temporary copies of records "
                            "outlive the session in clear", {"mount": "/", "source": "/dev/sda1", "fstype": "ext4"})),
    ((DATA,), (Status.ERROR, "no mounted filesystem holds /tmp", {"mount": None})),
])
def test_tmp_is_protected_by_default_when_ephemeral_or_encrypted(mounts: tuple[Mount, ...],
                                                                 expected: tuple[Status, str, dict[str, Any]]) -> None:
    got = crypto.tmp(Mounts(mounts), DEVICES)
    assert (got.status, got.message, thaw(got.observed)) == expected


def test_swap_unencrypted_fails_by_default() -> None:
    assert [f.status for f in crypto.swap(Swaps((Swap("/dev/sda3", "partition"),)), Mounts((ROOT,)), DEVICES)] == [
        Status.FAIL]


@pytest.mark.parametrize(("configured", "applied", "status", "message"), [
    ("DEFAULT", "DEFAULT", Status.PASS, "crypto policy DEFAULT"),
    ("default", "DEFAULT", Status.PASS, "crypto policy DEFAULT"),  # the same policy in other case: applied
    ("FUTURE", "DEFAULT", Status.PASS, "crypto policy DEFAULT (configured FUTURE, not applied yet)"),
    ("DEFAULT:SHA1", "", Status.FAIL, "crypto policy DEFAULT:SHA1 is weakened by SHA1"),
    ("DEFAULT", "DEFAULT:sha1:AD-SUPPORT", Status.FAIL,
     "crypto policy DEFAULT:sha1:AD-SUPPORT is weakened by SHA1, AD-SUPPORT (configured DEFAULT, not applied yet)"),
    ("LEGACY", "LEGACY", Status.FAIL, "crypto policy LEGACY is not one of DEFAULT, FIPS, FUTURE"),
])
def test_system_policy_names_weak_sub_policies_and_a_pending_change(configured: str, applied: str, status: Status,
                                                                    message: str) -> None:
    where = Location("/etc/crypto-policies/config", 1)
    got = crypto.system_policy(CryptoPolicy(True, configured, applied, where))
    assert (got.status, got.message, got.location) == (status, message, where)


WEAK = {"ciphers": "3des-cbc", "macs": "hmac-md5", "kexalgorithms": "diffie-hellman-group1-sha1",
        "hostkeyalgorithms": "ssh-dss"}
STRONG = {"ciphers": "aes256-gcm@openssh.com", "macs": "hmac-sha2-512-etm@openssh.com",
          "kexalgorithms": "curve25519-sha256", "hostkeyalgorithms": "ssh-ed25519"}


@pytest.mark.parametrize("key", sorted(WEAK))
def test_ssh_client_names_each_kind_of_weak_algorithm(key: str) -> None:
    options = {k: (f"{STRONG[k]},{WEAK[k]}" if k == key else STRONG[k],) for k in STRONG}
    got = crypto.ssh_client(SshClientConfig(True, freeze(options)))
    assert seen(got) == (Status.FAIL, "ssh client", f"outbound SSH enables weak algorithms: {key}: {WEAK[key]}",
                         {"weak": {key: [WEAK[key]]}})
    clean = crypto.ssh_client(SshClientConfig(True, freeze({k: (v,) for k, v in STRONG.items()})))
    assert seen(clean) == (Status.PASS, "ssh client", "outbound SSH enables no weak algorithm",
                           {k: [v] for k, v in STRONG.items()})


@pytest.mark.parametrize("weak", ["3des-cbc,aes128-cbc", "3des-cbc, aes128-cbc ,"])
def test_a_site_weak_list_may_be_one_comma_separated_string(weak: str) -> None:
    config = SshClientConfig(True, freeze({"ciphers": ("aes128-cbc,aes256-gcm@openssh.com",)}))
    got = crypto.ssh_client(config, ssh_weak_ciphers=weak, ssh_weak_macs=(), ssh_weak_kex=())
    assert (got.status, thaw(got.observed)) == (Status.FAIL, {"weak": {"ciphers": ["aes128-cbc"]}})
