"""Clock synchronisation: timedatectl, chronyc or ntpq, whichever answers first."""
from __future__ import annotations

from scanner.collectors.linux_common import ParseError, Section, key_values, lines
from scanner.facts.linux import TimeSync
from scanner.model import Target, freeze

#: The executables of the time synchronisation clients: chrony, ntpd (ntp, ntpsec), OpenNTPD, systemd-timesyncd.
TIME_CLIENTS = ("/usr/sbin/chronyd", "/usr/bin/chronyd", "/usr/sbin/ntpd", "/usr/bin/ntpd", "/usr/sbin/openntpd",
                "/lib/systemd/systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd")
#: Prints the clients that exist, with shell built-ins only.
TIME_CLIENTS_PROBE = ("for f in " + " ".join(TIME_CLIENTS)
                      + "; do if [ -x \"$f\" ]; then printf '%s\\n' \"$f\"; fi; done; true")


def parse_time_sync(section: Section, target: Target) -> TimeSync:
    reasons = []
    td = section.probe("timedatectl")
    if td.ok:
        values = key_values(td.text(), sep="=")
        if "NTPSynchronized" not in values:
            raise ParseError("timedatectl show printed no NTPSynchronized")
        return TimeSync(values["NTPSynchronized"] == "yes", "timedatectl", values.get("NTP", ""),
                        freeze({k: values.get(k, "") for k in ("NTP", "NTPSynchronized", "Timezone")}))
    reasons.append(td.reason("timedatectl show"))
    chrony = section.probe("chronyc")
    if chrony.ok:
        values = key_values(chrony.text(), sep=":")
        leap = values.get("Leap status", "")
        if not leap:
            raise ParseError("chronyc tracking printed no 'Leap status'")
        return TimeSync(leap == "Normal", "chronyc", "chronyd",
                        freeze({k: values.get(k, "") for k in ("Reference ID", "Leap status", "System time")}))
    reasons.append(chrony.reason("chronyc tracking"))
    ntpq = section.probe("ntpq")
    if ntpq.ok:
        peers = [line for line in lines(ntpq.text()) if line[:1] in "*o" and line]
        return TimeSync(bool(peers), "ntpq", "ntpd", freeze({"system_peer": peers[0] if peers else ""}))
    reasons.append(ntpq.reason("ntpq -pn"))
    clients = section.probe("clients")
    installed = [line for line in lines(clients.text()) if line.startswith("/")] if clients.ok else []
    if clients.ok and not installed:
        return TimeSync(False, "", "", freeze({"clients_searched": " ".join(TIME_CLIENTS)}), configured=False)
    if not clients.ok:
        reasons.append(clients.reason("look for time synchronisation clients"))
    else:
        reasons.append("installed: " + ", ".join(installed))
    raise ParseError("no time synchronisation source could be queried: " + "; ".join(reasons))
