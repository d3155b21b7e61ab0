"""Helpers of the directory checks: the cases mutation testing (docs/mutation.md) showed untested: the default
resource of a flavor gate and the wording of an unset lockout duration or age."""
from __future__ import annotations

from checks.ldap import common
from tests.checks.ldap.test_ldap_checks import dse


def test_a_flavor_gate_names_the_directory_by_default() -> None:
    na = common.flavor_gate(dse("ad"), "openldap")
    assert na is not None and (na.resource, na.status.value) == ("directory", "not_applicable")
    assert na.message == "applies to OpenLDAP; this target is Active Directory (flavor from root DSE)"
    assert common.flavor_gate(dse("openldap"), "openldap") is None


def test_unset_durations_read_as_words() -> None:
    assert (common.fmt_minutes(None), common.fmt_minutes(30), common.fmt_minutes(7.5)) == (
        "until an administrator unlocks", "30 minutes", "7.5 minutes")
    assert (common.fmt_days(None), common.fmt_days(90)) == ("never", "90 days")
