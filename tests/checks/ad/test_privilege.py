"""AD privileged groups: the cases mutation testing (docs/mutation.md) showed untested: a forest-root group the
check skips before a group it judges, approval regardless of case, and the members it reports."""
from __future__ import annotations

from checks.ad import privilege
from scanner.facts.ldap import GroupMember, PrivilegedGroup
from tests.checks.ad.test_ad_checks import dse

ADMIN = GroupMember("Administrator", "CN=Administrator", False, True)


def test_a_forest_root_group_does_not_end_the_loop() -> None:
    ea = PrivilegedGroup("Enterprise Admins", "S-1-5-21-1-519", "", (), held_by="DC=root,DC=test")
    da = PrivilegedGroup("Domain Admins", "S-1-5-21-1-512", "CN=Domain Admins",
                         (ADMIN, GroupMember("eve", "CN=eve", False, False)))
    got = privilege.privileged_groups(dse(), (ea, da), approved_privileged=("ADMINISTRATOR",))
    assert [(f.resource, f.status.value) for f in got] == [("Enterprise Admins", "not_applicable"),
                                                            ("Domain Admins", "fail")]
    assert got[0].observed["held_by"] == "DC=root,DC=test"
    assert got[1].observed["unapproved"] == ("eve",) and "eve (direct, disabled)" in got[1].message
    assert got[1].observed["members"][1] == {"sam": "eve", "nested": False, "enabled": False, "primary_group": False}
