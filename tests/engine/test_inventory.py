from __future__ import annotations

import json

import pytest
import yaml

from scanner.inventory import InventoryError, load_inventory
from scanner.model import Platform

BASE = {
    "version": 1,
    "policy": {"password_max_age_days": 90, "password_min_length": 12},
    "groups": {"gxp": {"policy": {"password_max_age_days": 60}, "tags": ["validated"]},
               "web": {"policy": {"password_max_age_days": 30}}},
    "targets": [
        {"name": "db1", "type": "linux", "connection": "ssh", "host": "10.200.0.2", "port": 22, "user": "scan",
         "key_file": "~/.ssh/id_ed25519", "groups": ["gxp"], "tags": ["db"]},
        {"name": "web1", "type": "linux", "connection": "ssh", "host": "web1", "groups": ["gxp", "web"],
         "policy": {"password_min_length": 14}},
        {"name": "acct", "type": "aws", "regions": ["eu-west-1"], "accounts": ["123456789012"], "role_name": "Audit"},
        {"name": "dir", "type": "ldap", "url": "ldaps://dc1:636", "bind_dn": "scan@corp", "password_env": "DIR_PW"},
    ],
}


def with_change(path: str, value):
    doc = json.loads(json.dumps(BASE))
    node = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is ...:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


def test_policy_precedence_inventory_then_groups_then_target():
    inv = load_inventory(BASE)
    db1, web1, acct, _ = inv.targets
    assert db1.policy["password_max_age_days"] == 60 and db1.policy["password_min_length"] == 12
    assert web1.policy["password_max_age_days"] == 30 and web1.policy["password_min_length"] == 14
    assert acct.policy["password_max_age_days"] == 90
    assert db1.type is Platform.LINUX and db1.opt("host") == "10.200.0.2" and db1.tags == ("db", "validated")


@pytest.mark.parametrize("path, value, message", [
    ("targets.0.port", "abc", "targets[0].port: 'abc' is not of type 'integer'"),
    ("targets.0.port", 70000, "targets[0].port: 70000 is greater than the maximum of 65535"),
    ("targets.1.type", "mainframe", "targets[1].type: 'mainframe' is not one of"),
    ("targets.2.regions", [], "targets[2].regions"),
    ("targets.3.url", "http://dc1", "targets[3].url: 'http://dc1' does not match"),
    ("targets.0.colour", "blue", "targets[0]: Unevaluated properties are not allowed ('colour' was unexpected)"),
    ("targets.0.connection", "telnet", "targets[0].connection: 'telnet' is not one of ['local', 'ssh']"),
    ("targets.0.host", ..., "targets[0]: 'host' is a required property"),
    ("policy.password_min_length", "twelve", "policy.password_min_length: 'twelve' is not of type 'integer'"),
    ("version", 2, "version: 1 was expected"),
    ("targets.1.groups", ["nope"], "targets[1].groups[0]: unknown group 'nope'"),
    ("targets.1.name", "db1", "targets[1].name: duplicate target name 'db1' (first at targets[0])"),
    ("targets.3.password", "s3cret!", "targets[3].password: literal secrets are not accepted"),
    ("targets.0.become_password", "s3cret!", "name it with 'become_password_env'"),
    ("targets.0.tls_endpoints", ["ldap1"], "targets[0].tls_endpoints[0]: 'ldap1' does not match"),
    ("targets.0.challenge_account", "", "targets[0].challenge_account: '' should be non-empty"),
    ("targets.0.challenge_password", "s3cret!", "targets[0].challenge_password: literal secrets are not accepted"),
])
def test_faults_are_reported_with_their_path(path, value, message):
    with pytest.raises(InventoryError) as info:
        load_inventory(with_change(path, value))
    assert any(message in p for p in info.value.problems), info.value.problems
    assert "s3cret!" not in str(info.value)


def test_unknown_policy_names_are_faults_once_checks_are_known():
    doc = with_change("groups.web.policy.pasword_max_age_days", 5)
    with pytest.raises(InventoryError, match=r"groups\.web\.policy\.pasword_max_age_days: unknown policy name"):
        load_inventory(doc, policy_names={"password_max_age_days", "password_min_length"})
    # names a third-party check understands are accepted alongside the schema's own
    load_inventory(with_change("policy.acme_threshold", 3), policy_names={"acme_threshold"})


def test_yaml_file_with_a_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "inv.yaml"
    path.write_text("version: 1\ntargets:\n  - name: a\n    type: [linux\n")
    with pytest.raises(InventoryError, match=r"inv\.yaml: not valid YAML/JSON at line 5"):
        load_inventory(path)


def test_yaml_and_json_files_load_alike_and_hash_their_bytes(tmp_path):
    y, j = tmp_path / "i.yaml", tmp_path / "i.json"
    y.write_text(yaml.safe_dump(BASE))
    j.write_text(json.dumps(BASE))
    a, b = load_inventory(y), load_inventory(j)
    assert a.targets == b.targets and a.sha256 != b.sha256 and len(a.sha256) == 64


@pytest.mark.parametrize("limit, tags, names", [
    ((), (), ["db1", "web1", "acct", "dir"]),
    (("web",), (), ["web1"]),
    (("gxp",), ("db",), ["db1"]),
    (("acct", "web"), (), ["web1", "acct"]),
    ((), ("validated",), ["db1", "web1"]),
])
def test_select_by_group_name_and_tag(limit, tags, names):
    assert [t.name for t in load_inventory(BASE).select(limit, tags)] == names


def test_embedded_default_is_this_machine_scanned_locally():
    [t] = load_inventory(None).targets
    assert t.type is Platform.LINUX and t.opt("connection") == "local"


@pytest.mark.parametrize("name", ["local.yaml", "example.yaml"])
def test_shipped_inventories_are_valid(name):
    from pathlib import Path

    from scanner.registry import Registry

    inv = load_inventory(Path(__file__).parents[2] / "inventories" / name, policy_names=Registry.load().param_names())
    assert inv.targets


# --- strict YAML: duplicate keys, aliases, bounds --------------------------------------------------------

#: A real "billion laughs" document: nine levels of nine aliases each, 9**9 strings once expanded.
BILLION_LAUGHS = "\n".join(
    ['version: 1', 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["targets: [*a8]"]) + "\n"


def test_a_billion_laughs_inventory_fails_fast_and_says_little(tmp_path, monkeypatch):
    """The document is a few hundred bytes; expanded it is 387 million strings. Refused at the first anchor: the
    loader reads the few YAML events before it and builds no Python object (a loader that composed the document,
    or built it, would read all of its events, then construct and walk the expansion)."""
    import subprocess
    import sys

    import yaml

    assert len(BILLION_LAUGHS) < 800
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", str(path), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "bomb.yaml" in proc.stderr and "at line 2, column 5 (a0): YAML anchors (&a0) are not accepted" in proc.stderr
    assert len(proc.stderr) + len(proc.stdout) < 1000

    events: list[str] = []
    built: list[object] = []
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Counting(base):  # type: ignore[misc, valid-type]
        def get_event(self):
            event = super().get_event()
            events.append(type(event).__name__)
            return event

        def construct_document(self, node):
            built.append(node)
            return super().construct_document(node)

    monkeypatch.setattr(yaml, "CSafeLoader", Counting)
    monkeypatch.setattr(yaml, "SafeLoader", Counting)
    with pytest.raises(InventoryError, match=r"YAML anchors \(&a0\) are not accepted"):
        load_inventory(path)
    # stream, document, mapping, "version", "1", "a0", then the anchored sequence: refused there
    assert events == ["StreamStartEvent", "DocumentStartEvent", "MappingStartEvent", "ScalarEvent", "ScalarEvent",
                      "ScalarEvent", "SequenceStartEvent"]
    assert built == []


@pytest.mark.parametrize("text, message", [
    ("version: 1\ntargets:\n  - name: a\n    type: linux\n    connection: local\n    connection: ssh\n",
     "not valid YAML/JSON at line 6, column 5 (targets[0]): duplicate key 'connection' (first at line 5)"),
    ("version: 1\nversion: 1\ntargets: []\n", "line 2, column 1 ((top level)): duplicate key 'version'"),
    ('{"version": 1, "targets": [], "targets": []}', "duplicate key 'targets'"),
    ("version: 1\nx: &x {a: 1}\ntargets: [*x]\n", "line 2, column 4 (x): YAML anchors (&x) are not accepted"),
    pytest.param("version: 1\ntargets: [" + "[" * 100 + "]" * 100 + "]\n", "nested deeper than 64 levels",
                 id="nested-100"),
    pytest.param("version: 1\ntargets: [" + "[" * 200_000 + "]" * 200_000 + "]\n", "nested deeper than 64 levels",
                 id="nested-200000"),
    ("version: 1\n---\nversion: 1\n", "more than one YAML document"),
    ("? [a, b]\n: 1\n", "mapping keys must be plain values"),
])
def test_yaml_that_a_config_never_needs_is_refused_with_line_and_path(tmp_path, text, message):
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert any(message in p for p in info.value.problems), info.value.problems


def test_an_oversized_inventory_is_not_read(tmp_path):
    from scanner.yamlload import MAX_BYTES

    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.truncate(MAX_BYTES + 10)
    with pytest.raises(InventoryError, match="larger than 16 MiB"):
        load_inventory(path)


# --- windows targets: tests/connectors/test_winrm.py ------------------------------------------------------------


def test_challenge_options_are_accepted_and_reach_the_target():
    doc = with_change("targets.0.tls_endpoints", ["ldap1:636", "[fd00::1]:443"])
    doc = json.loads(json.dumps(doc))
    doc["targets"][0].update(challenge_account="gxptest", challenge_password_env="GXP_TEST_PW", tls_ca_file="/ca.pem")
    t = load_inventory(doc).targets[0]
    assert (t.opt("tls_endpoints"), t.opt("challenge_account"), t.opt("tls_ca_file")) == (
        ("ldap1:636", "[fd00::1]:443"), "gxptest", "/ca.pem")
