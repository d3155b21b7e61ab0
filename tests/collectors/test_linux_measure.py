"""Issue 14, the fleet measure: the pack forks fewer programs without losing evidence.

One ``systemctl show`` answers for journald, journal-upload, rsyslog and the timers; one ``lsblk`` for the disks and
the swap areas; auditd is judged from the batch's one process listing (its real executable, as root), not by a
process name anyone can pick; a probe of builtins around one program runs that program under timeout without a
second shell; a tool that is not installed is "not found" without starting anything.
"""
from __future__ import annotations

import time

import pytest

from scanner.collectors import linux
from scanner.collectors.linux_audit import parse_auditd
from scanner.collectors.linux_common import UNITS_PROBE, ParseError, Probe, Section, systemd_units
from scanner.collectors.linux_crypto import LSBLK_PROBE, parse_swaps
from scanner.connectors.local import LocalConnector
from tests.factories import make_target

AUDITCTL = {"auditctl_s": Probe(0, b"enabled 1\n"), "auditctl_l": Probe(0, b"No rules\n")}


@pytest.mark.parametrize(("listing", "err", "running"), [
    (b"/proc/1/exe 0 /usr/lib/systemd/systemd\0/proc/611/exe 0 /usr/sbin/auditd\0", b"", True),
    (b"/proc/7/exe 0 /sbin/auditd\0", b"", True),
    # a process anyone can name auditd: another executable, or the real one run by a user
    (b"/proc/9/exe 1000 /home/eve/auditd\0/proc/10/exe 0 /tmp/auditd\0", b"", False),
    (b"/proc/11/exe 1000 /usr/sbin/auditd\0", b"", False),
])
def test_auditd_runs_only_as_its_own_executable_and_root(listing, err, running):
    value = parse_auditd(Section(probes={"processes": Probe(0, listing, err), **AUDITCTL}), make_target())
    assert value.installed and value.running is running


def test_auditd_not_seen_while_processes_were_hidden_is_an_error():
    hidden = Probe(0, b"/proc/1/exe 0 /usr/lib/systemd/systemd\0", b"find: '/proc/5/exe': Permission denied\n")
    with pytest.raises(ParseError, match="cannot tell whether auditd runs"):
        parse_auditd(Section(probes={"processes": hidden, **AUDITCTL}), make_target())


def test_one_systemctl_call_serves_journald_syslog_and_the_timers():
    plans = [linux.SECTIONS_BY_NAME[n].plan(make_target())[1]
             for n in ("linux.journald", "linux.syslog", "linux.backup_jobs")]
    assert all(("units", UNITS_PROBE) in probes for probes in plans)
    assert sum("systemctl" in c for probes in plans for _, c in probes) == 3  # the same command: run once
    script, _ = linux.build_script(linux.SECTIONS, make_target(), "n" * 32, 10)
    assert script.count('"$X_systemctl"') == 1


def test_systemctl_show_blocks_are_read_per_unit():
    out = (b"UMask=0066\nId=rsyslog.service\nActiveState=active\n\nId=b.timer\nActiveState=active\n"
           b"Unit=b.service\n\nId=systemd-journald.service\nActiveState=inactive\nUMask=0022\n")
    units = systemd_units(Probe(0, out))
    assert units["rsyslog.service"] == {"Id": "rsyslog.service", "ActiveState": "active", "UMask": "0066"}
    assert units["b.timer"]["Unit"] == "b.service" and units["systemd-journald.service"]["ActiveState"] == "inactive"


@pytest.mark.parametrize(("out", "words"), [
    (b"Id=a.service\nnot a property\n", "not a 'Property=value' line"),
    (b"ActiveState=active\n", "without Id"),
])
def test_systemctl_show_garbage_is_an_error(out, words):
    with pytest.raises(ParseError, match=words):
        systemd_units(Probe(0, out))


def test_one_lsblk_call_serves_the_disks_and_the_swap_areas():
    assert linux.SECTIONS_BY_NAME["linux.swaps"].probes == (("lsblk", LSBLK_PROBE),)
    assert linux.SECTIONS_BY_NAME["linux.block_devices"].probes == (("lsblk", LSBLK_PROBE),)
    tree = (b'{"blockdevices": [{"name": "/dev/vda", "kname": "/dev/vda", "children": [{"name": '
            b'"/dev/mapper/vg-swap", "kname": "/dev/dm-1"}]}]}')
    swaps = parse_swaps(Section({"/proc/swaps": b"Filename Type Size Used Priority\n"
                                                b"/dev/dm-1 partition 1 0 -2\n"}, probes={"lsblk": Probe(0, tree)}),
                        make_target())
    assert [s.name for s in swaps.devices] == ["/dev/mapper/vg-swap"]


def _spec(name: str, probes: tuple[tuple[str, str], ...]) -> linux.SectionSpec:
    def parse(section: Section, _target: object) -> dict[str, int]:
        return {label: probe.rc for label, probe in section.probes.items()}

    return linux.SectionSpec(name, "test section", parse, probes=probes)


def test_builtins_around_one_program_time_out_alone_without_a_second_shell():
    target = make_target(fact_timeout=0.5)
    specs = [_spec("linux.slow", (("slow", "set --; @{sleep} 30"),)),
             _spec("linux.after", (("after", "@{uname} -s"),))]
    script, _ = linux.build_script(specs, target, "n" * 32, 0.5)
    assert "quick slow 'set --; \"$X_timeout\" -k 2 \"$T\" \"$X_sleep\" 30'" in script
    start = time.monotonic()
    with LocalConnector(target) as conn:
        facts = linux.run_batch(conn, target, specs, become=False)
    assert time.monotonic() - start < 5
    assert facts["linux.slow"].value == {"slow": 124} and facts["linux.after"].value == {"after": 0}


def test_a_tool_that_is_not_installed_starts_nothing():
    target = make_target()
    specs = [_spec("linux.gone", (("gone", "@{gxpnosuchtool} -x"),))]
    script, _ = linux.build_script(specs, target, "n" * 32, 10)
    assert 'run gone "$X_gxpnosuchtool" -x' in script
    with LocalConnector(target) as conn:
        facts = linux.run_batch(conn, target, specs, become=False)
    assert facts["linux.gone"].value == {"gone": 127}
    assert "gxpnosuchtool: not found" in facts["linux.gone"].evidence[0].raw
