"""KMS facts: keys with manager, state, spec and (where it applies) automatic rotation."""
from __future__ import annotations

from scanner.collectors.aws._api import Api, AwsFact, Fields, Response, declare
from scanner.facts.aws import KmsKey


def _kms_keys(api: Api, region: str) -> list[KmsKey]:
    keys = api.pages(api.fact.call("ListKeys"), region, "Keys")
    return api.each(lambda k: _kms_key(api, region, k), keys)


def _kms_key(api: Api, region: str, key: Response) -> KmsKey:
    f = Fields(api, region)
    described = f.get("describe", api.fact.call("DescribeKey"), KeyId=key["KeyId"])
    meta = described["KeyMetadata"] if described is not None else {}  # an answer without it fails the fact
    base = KmsKey(account=api.account.id, region=region, id=key["KeyId"], arn=key.get("KeyArn") or meta.get("Arn", ""),
                  manager=meta.get("KeyManager", ""), state=meta.get("KeyState", ""),
                  spec=meta.get("KeySpec") or meta.get("CustomerMasterKeySpec", ""))
    rotatable = base.manager == "CUSTOMER" and base.spec == "SYMMETRIC_DEFAULT" and base.state == "Enabled"
    rotation = None
    if rotatable:
        got = f.get("rotation", api.fact.call("GetKeyRotationStatus"), KeyId=key["KeyId"])
        rotation = bool(got["KeyRotationEnabled"]) if got is not None else None
    return KmsKey(**{**base.__dict__, "rotation_enabled": rotation, "rotatable": rotatable,
                     "errors": f.frozen_errors()})


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.kms_keys",
            (declare("kms", "ListKeys"), declare("kms", "DescribeKey"), declare("kms", "GetKeyRotationStatus")),
            _kms_keys),
)
