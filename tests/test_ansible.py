"""Ansible inventory import: INI and YAML samples give the same gxpscan targets, valid for the loader."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.ansible import expand_hosts, load_ansible_inventory
from scanner.inventory import load_inventory

SAMPLES = Path(__file__).parent / "fixtures" / "ssh" / "ansible"

EXPECTED = {
    "bastion.example.test": {"name": "bastion.example.test", "type": "linux", "connection": "ssh",
                             "host": "10.200.9.2", "user": "ops"},
    "web02.example.test": {"name": "web02.example.test", "type": "linux", "connection": "ssh",
                           "host": "web02.example.test", "port": 2222, "user": "deploy",
                           "key_file": "/etc/gxpscan/keys/prod_ed25519",
                           "proxy_jump": "ops@bastion.example.test:22", "become": "sudo",
                           "groups": ["prod", "web"]},
    "web-legacy.example.test": {"name": "web-legacy.example.test", "type": "linux", "connection": "ssh",
                                "host": "10.200.9.6", "port": 22, "user": "legacy",
                                "key_file": "/etc/gxpscan/keys/prod_ed25519",
                                "proxy_jump": "ops@bastion.example.test:22", "groups": ["prod", "web"]},
    "db1.example.test": {"name": "db1.example.test", "type": "linux", "connection": "ssh",
                         "host": "10.200.9.10", "user": "produser", "key_file": "~/.ssh/db_ed25519",
                         "groups": ["prod", "db"]},
    "controller": {"name": "controller", "type": "linux", "connection": "local", "groups": ["local"]},
}


@pytest.mark.parametrize("sample", ["hosts.ini", "hosts.yml"])
def test_sample_inventory_maps_hosts_groups_and_variables(sample):
    doc = load_ansible_inventory(SAMPLES / sample)
    by_name = {t["name"]: t for t in doc["targets"]}
    assert sorted(by_name) == sorted([*EXPECTED, "web01.example.test", "web03.example.test"])
    for name, expected in EXPECTED.items():
        assert by_name[name] == expected, name
    assert set(doc["groups"]) == {"prod", "web", "db", "local"}
    # A literal password in the Ansible inventory is never carried over.
    assert "never-copied" not in repr(doc)


def test_ini_and_yaml_forms_agree_and_pass_the_inventory_loader():
    ini, yml = (load_ansible_inventory(SAMPLES / s) for s in ("hosts.ini", "hosts.yml"))
    assert sorted(ini["targets"], key=lambda t: t["name"]) == sorted(yml["targets"], key=lambda t: t["name"])
    inventory = load_inventory({"version": 1, "targets": []}, extra=ini)
    assert [t.name for t in inventory.select(["web"])] == [
        "web01.example.test", "web02.example.test", "web03.example.test", "web-legacy.example.test"]
    assert [t.name for t in inventory.select(["db"])] == ["db1.example.test"]
    web01 = inventory.select(["web01.example.test"])[0]
    assert (web01.opt("host"), web01.opt("port"), web01.opt("become")) == ("web01.example.test", 2222, "sudo")


@pytest.mark.parametrize("pattern, hosts", [
    ("web[1:3]", ["web1", "web2", "web3"]),
    ("db[01:10:3].x", ["db01.x", "db04.x", "db07.x", "db10.x"]),
    ("rack[a:c]-[1:2]", ["racka-1", "racka-2", "rackb-1", "rackb-2", "rackc-1", "rackc-2"]),
    ("plain.example", ["plain.example"]),
])
def test_host_ranges_expand(pattern, hosts):
    assert expand_hosts(pattern) == hosts


@pytest.mark.parametrize("name, text, message", [
    ("bad.ini", "[web\nhost1\n", "bad.ini:1: unclosed section header"),
    ("bad.ini", "[web]\nhost1 ansible_port\n", "bad.ini:2: expected key=value"),
    ("bad.ini", "[web:weird]\n", "bad.ini:1: unknown section kind"),
    ("bad.ini", "[w]\nh1 ansible_connection=winrm\n", "ansible_connection 'winrm' is not supported"),
    ("bad.ini", "[w]\nh1 ansible_become=yes ansible_become_method=su\n", "ansible_become_method 'su'"),
    ("bad.ini", "[a:children]\nb\n[b:children]\na\n[b]\nh1\n", "group cycle"),
    ("bad.yml", "all:\n  hosts: [a, b]\n", "hosts of group 'all' must be a mapping, got list"),
    ("bad.yml", "all:\n  hots:\n    h1:\n", "unknown key(s) hots"),
    ("bad.yml", "all: [\n", "not valid YAML"),
])
def test_broken_inventories_raise_clear_value_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_ansible_inventory(path)
    assert message in str(err.value)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        load_ansible_inventory(tmp_path / "absent.ini")


@pytest.mark.parametrize("pattern, message", [
    ("web[1:100000]", "expands to more than 10000 hosts (the limit per inventory)"),
    ("r[1:200]-[1:200]", "expands to more than 10000 hosts (the limit per inventory)"),
    ("w[1:9:0]", "the stride must be at least 1"),
    ("w[9:1]", "the end is before the start"),
    ("w[z:a]", "bad host range"),
])
def test_host_ranges_are_bounded(pattern, message):
    import time

    started = time.monotonic()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_hosts(pattern)
    assert time.monotonic() - started < 0.5


def test_host_ranges_with_letters_and_stride():
    assert expand_hosts("n[a:f:2]") == ["na", "nc", "ne"]
    assert len(expand_hosts("web[01:50]")) == 50 and expand_hosts("web[01:50]")[-1] == "web50"


def test_the_host_limit_counts_the_whole_inventory(tmp_path):
    path = tmp_path / "many.ini"
    path.write_text("[a]\nx[1:6000]\n[b]\ny[1:6000]\n")
    with pytest.raises(ValueError, match=r"many\.ini:4: .*more than 10000 hosts \(the limit per inventory\)"):
        load_ansible_inventory(path)


@pytest.mark.parametrize("name, text", [
    ("hosts.ini", "[db]\ndb1.example:2222 ansible_user=ops\ndb[2:3].example:2200\n10.0.0.9:22 ansible_port=2022\n"
                  "[2001:db8::7]:2201\nfe80::1\n"),
    ("hosts.yml", "db:\n  hosts:\n    db1.example:2222: {ansible_user: ops}\n    db[2:3].example:2200:\n"
                  "    10.0.0.9:22: {ansible_port: 2022}\n    '[2001:db8::7]:2201':\n    'fe80::1':\n"),
])
def test_host_colon_port_is_split_into_host_and_port(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    by_name = {t["name"]: t for t in load_ansible_inventory(path)["targets"]}
    assert {n: (t["host"], t.get("port")) for n, t in by_name.items()} == {
        "db1.example": ("db1.example", 2222), "db2.example": ("db2.example", 2200),
        "db3.example": ("db3.example", 2200), "10.0.0.9": ("10.0.0.9", 2022),
        "2001:db8::7": ("2001:db8::7", 2201), "fe80::1": ("fe80::1", None)}
    assert by_name["db1.example"]["user"] == "ops"


def test_a_bad_port_is_a_clear_error(tmp_path):
    path = tmp_path / "h.ini"
    path.write_text("[db]\ndb1:99999\n")
    with pytest.raises(ValueError, match=r"h\.ini:2: bad port in host 'db1:99999'"):
        load_ansible_inventory(path)


@pytest.mark.parametrize("text, message", [
    ("all:\n  hosts:\n    a: {ansible_port: 22}\n    a: {ansible_port: 23}\n", "duplicate key 'a'"),
    ("all:\n  vars: &v {ansible_user: x}\n  children:\n    g: {vars: *v}\n", "YAML anchors (&v) are not accepted"),
])
def test_ansible_yaml_uses_the_strict_loader(tmp_path, text, message):
    path = tmp_path / "inv.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_ansible_inventory(path)
