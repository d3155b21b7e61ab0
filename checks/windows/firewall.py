"""Windows Firewall."""
from __future__ import annotations

from checks.windows._common import settings_finding
from scanner.facts.windows import Firewall
from scanner.model import Area, Finding, Severity
from scanner.registry import check


@check(id="windows.firewall.enabled", title="Windows Firewall is on and blocks inbound by default",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="The Domain, Private and Public firewall profiles are enabled and block unsolicited inbound "
                 "connections by default.",
       remediation="Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True -DefaultInboundAction Block.")
def enabled(firewall: Firewall) -> Finding:
    names = {p.name: p for p in firewall.profiles}
    problems = [f"{n} profile not reported" for n in ("Domain", "Private", "Public") if n not in names]
    for p in firewall.profiles:
        if not p.enabled:
            problems.append(f"{p.name} profile is off")
        elif p.default_inbound != "Block":
            problems.append(f"{p.name} profile's default inbound action is {p.default_inbound}")
    return settings_finding("Windows Firewall", problems, "all profiles on, inbound blocked by default",
                            profiles={p.name: p.enabled for p in firewall.profiles})
