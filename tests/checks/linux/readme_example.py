from scanner import Finding, check, failed, passed
from scanner.facts.linux import LoginDefs


@check(id="linux.acme.max_age", title="Passwords expire", severity="medium", area="password_policy",
       criterion="PASS_MAX_DAYS in /etc/login.defs is at most the policy's password_max_age_days.",
       remediation="Set PASS_MAX_DAYS in /etc/login.defs to the policy's limit or lower.")
def max_age(login_defs: LoginDefs, password_max_age_days: int = 90) -> Finding:
    value = login_defs.int("PASS_MAX_DAYS")  # None when unset
    where = login_defs.location("PASS_MAX_DAYS")  # the file and line that set it
    if value is None or value > password_max_age_days:
        return failed("/etc/login.defs", f"PASS_MAX_DAYS is {value}, above {password_max_age_days}",
                      location=where, PASS_MAX_DAYS=value, limit=password_max_age_days)
    return passed("/etc/login.defs", f"PASS_MAX_DAYS is {value}", location=where, PASS_MAX_DAYS=value)
