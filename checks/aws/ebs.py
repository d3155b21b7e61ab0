"""EBS: encryption by default and encrypted volumes."""
from __future__ import annotations

from typing import Any

from checks.aws._common import none_found, where
from scanner.facts.aws import AwsResources, EbsDefaultEncryption, EbsVolume
from scanner.model import Finding, failed, passed
from scanner.registry import check


@check(id="aws.ebs.default_encryption", title="EBS encryption by default is on", severity="medium",
       area="encryption", criterion="EBS encryption by default is enabled in every scanned region",
       remediation="Enable EBS encryption by default in each listed region (EC2 settings), ideally with a "
                   "customer managed KMS key.")
def default_encryption(ebs_default_encryption: AwsResources[EbsDefaultEncryption]) -> list[Finding]:
    out = []
    for r in ebs_default_encryption.items:
        obs: dict[str, Any] = dict(**where(r), enabled=r.enabled)
        if r.enabled:
            out.append(passed(r.arn, f"EBS encryption by default is on in {r.region}", **obs))
        else:
            out.append(failed(r.arn, f"EBS encryption by default is off in {r.region}", **obs))
    return out or none_found(ebs_default_encryption, "regions")


@check(id="aws.ebs.volume_encryption", title="EBS volumes are encrypted", severity="high", area="encryption",
       criterion="every EBS volume is encrypted",
       remediation="Encrypted volumes cannot be made in place: snapshot the volume, copy the snapshot with "
                   "encryption, create a volume from it and swap it in during a maintenance window.")
def volume_encryption(ebs_volumes: AwsResources[EbsVolume]) -> list[Finding]:
    out = []
    for v in ebs_volumes.items:
        obs: dict[str, Any] = dict(**where(v), volume=v.id, encrypted=v.encrypted, kms_key_id=v.kms_key_id,
                                   state=v.state)
        if v.encrypted:
            out.append(passed(v.arn, f"volume {v.id} is encrypted", **obs))
        else:
            out.append(failed(v.arn, f"volume {v.id} is not encrypted" + (f": {v.note}" if v.note else ""), **obs))
    return out or none_found(ebs_volumes, "EBS volumes")
