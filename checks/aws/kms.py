"""KMS: automatic rotation of customer managed keys."""
from __future__ import annotations

from typing import Any

from checks.aws._common import incomplete, none_found, where
from scanner.facts.aws import AwsResources, KmsKey
from scanner.model import Finding, error, failed, passed
from scanner.registry import check


@check(id="aws.kms.key_rotation", title="Customer managed KMS keys rotate", severity="medium", area="encryption",
       criterion="every enabled customer managed symmetric KMS key has automatic rotation enabled",
       remediation="Enable automatic key rotation on each listed customer managed symmetric key (KMS console, "
                   "Key rotation, or EnableKeyRotation).")
def key_rotation(kms_keys: AwsResources[KmsKey]) -> list[Finding]:
    out = []
    for k in kms_keys.items:
        bad = incomplete(k)
        if bad:
            out.append(bad)
            continue
        if not k.rotatable:
            continue
        obs: dict[str, Any] = dict(**where(k), key_id=k.id, rotation_enabled=k.rotation_enabled)
        if k.rotation_enabled is None:
            out.append(error(k.arn, f"rotation status of key {k.id} unknown", **obs))
        elif k.rotation_enabled:
            out.append(passed(k.arn, f"key {k.id} rotates automatically", **obs))
        else:
            out.append(failed(k.arn, f"key {k.id} does not rotate automatically", **obs))
    return out or none_found(kms_keys, "enabled customer managed symmetric KMS keys")
