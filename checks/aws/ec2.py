"""EC2 network access: administration ports open to the world."""
from __future__ import annotations

from typing import Any

from checks.aws._common import none_found, where
from scanner.facts.aws import AwsResources, SecurityGroup
from scanner.model import Finding, failed, passed
from scanner.registry import check

ADMIN_PORTS = (22, 3389)
WORLD = frozenset({"0.0.0.0/0", "::/0"})


@check(id="aws.ec2.sg_admin_ports_open", title="No security group opens SSH/RDP to the world", severity="high",
       area="access_control", criterion="no ingress rule allows TCP 22 or 3389 from 0.0.0.0/0 or ::/0",
       remediation="Remove the ingress rules that open TCP 22 or 3389 to 0.0.0.0/0 or ::/0; reach hosts through "
                   "Systems Manager Session Manager, a bastion or a VPN, or allow only known address ranges.")
def sg_admin_ports_open(security_groups: AwsResources[SecurityGroup]) -> list[Finding]:
    out = []
    for g in security_groups.items:
        open_ports = sorted({port for rule in g.ingress for port in ADMIN_PORTS
                             if rule.covers(port) and WORLD & set(rule.sources)})
        obs: dict[str, Any] = dict(**where(g), group_id=g.id, group_name=g.name, vpc_id=g.vpc_id,
                                   open_admin_ports=open_ports)
        if open_ports:
            out.append(failed(g.arn, f"{g.id} ({g.name}) allows port(s) {open_ports} from anywhere", **obs))
        else:
            out.append(passed(g.arn, f"{g.id} ({g.name}) does not open 22/3389 to the world", **obs))
    return out or none_found(security_groups, "security groups")
