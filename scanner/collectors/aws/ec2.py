"""EC2 facts: security groups with their ingress rules, EBS encryption by default, EBS volumes."""
from __future__ import annotations

from scanner.collectors.aws._api import Api, ApiError, AwsFact, declare
from scanner.facts.aws import EbsDefaultEncryption, EbsVolume, Ingress, SecurityGroup


def _security_groups(api: Api, region: str) -> list[SecurityGroup]:
    out = []
    for g in api.pages(api.fact.call("DescribeSecurityGroups"), region, "SecurityGroups"):
        rules = tuple(
            Ingress(protocol=str(p.get("IpProtocol", "-1")), from_port=p.get("FromPort"), to_port=p.get("ToPort"),
                    sources=tuple(r["CidrIp"] for r in p.get("IpRanges", []))
                    + tuple(r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])))
            for p in g["IpPermissions"]  # always in AWS's answer; without it, "no open port" would be a guess
        )
        out.append(SecurityGroup(
            account=api.account.id, region=region, id=g["GroupId"], name=g.get("GroupName", ""),
            arn=api.account.arn("ec2", region, f"security-group/{g['GroupId']}"), vpc_id=g.get("VpcId", ""),
            ingress=rules))
    return out


def _ebs_default(api: Api, region: str) -> list[EbsDefaultEncryption]:
    got = api.call(api.fact.call("GetEbsEncryptionByDefault"), region) or {}
    if "EbsEncryptionByDefault" not in got:
        raise ApiError("ec2:GetEbsEncryptionByDefault returned no EbsEncryptionByDefault")
    return [EbsDefaultEncryption(account=api.account.id, region=region,
                                 arn=api.account.arn("ec2", region, "ebs-encryption-by-default"),
                                 enabled=bool(got["EbsEncryptionByDefault"]))]


def _ebs_volumes(api: Api, region: str) -> list[EbsVolume]:
    return [
        EbsVolume(account=api.account.id, region=region, id=v["VolumeId"],
                  arn=api.account.arn("ec2", region, f"volume/{v['VolumeId']}"), encrypted=bool(v.get("Encrypted")),
                  kms_key_id=v.get("KmsKeyId"), state=v.get("State", ""))
        for v in api.pages(api.fact.call("DescribeVolumes"), region, "Volumes")
    ]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.security_groups", (declare("ec2", "DescribeSecurityGroups"),), _security_groups),
    AwsFact("aws.ebs_default_encryption", (declare("ec2", "GetEbsEncryptionByDefault"),), _ebs_default),
    AwsFact("aws.ebs_volumes", (declare("ec2", "DescribeVolumes"),), _ebs_volumes),
)
