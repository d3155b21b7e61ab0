"""KMS key rotation: the cases mutation testing (docs/mutation.md) showed untested: a rotating key passes, a key
that does not rotate fails, a key the check skips does not end the loop, and denied evidence of one key is an error
for that key only."""
from __future__ import annotations

from types import MappingProxyType

from checks.aws import kms
from scanner.facts.aws import KmsKey
from tests.checks.aws.test_checks import ACCOUNT, REGION, res


def key(name: str, rotation: bool | None = True, *, rotatable: bool = True, **errors: str) -> KmsKey:
    return KmsKey(ACCOUNT, REGION, name, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}", "CUSTOMER", "Enabled",
                  "SYMMETRIC_DEFAULT", rotation, rotatable=rotatable, errors=MappingProxyType(errors))


def _judged(keys: list[KmsKey]) -> list[tuple[str, str, bool | None]]:
    return [(f.observed.get("key_id", f.resource.rsplit("/", 1)[-1]), f.status.value,
             f.observed.get("rotation_enabled")) for f in kms.key_rotation(res(*keys))]


def test_each_rotatable_key_is_judged_on_its_rotation() -> None:
    skipped = key("aws-managed", None, rotatable=False)
    assert _judged([skipped, key("on"), key("off", False), key("unknown", None)]) == [
        ("on", "pass", True), ("off", "fail", False), ("unknown", "error", None)]


def test_denied_evidence_is_an_error_for_that_key_only() -> None:
    denied = key("denied", True, describe="kms:DescribeKey denied")
    assert _judged([denied, key("on")]) == [("denied", "error", None), ("on", "pass", True)]
