"""Read a mutmut 3 work directory (scripts/mutation.sh) and sort every surviving mutant of checks/ into a class:

- ``wording``: the mutant changes only a finding's wording or bookkeeping: its message or resource text, the
  ``location`` or an observed value of the finding, or the description a helper turns into one (``none_found``);
  subclasses name which (``message``, ``resource``, ``observed-pass`` for a passed or not-applicable finding,
  ``observed-fail`` for a failed, error or manual one). No verdict can change.
- ``equivalent``: reviewed by hand and listed in ``EXPLAINED`` below with the reason it cannot change behaviour.
- ``logic``: everything else; a verdict can change, so it needs a test that kills it (or a reviewed reason).

The class comes from the syntax trees of the original and the mutated function (mutmut keeps both in
``mutants/<module>.py``): every node where they differ must sit in a wording slot of a finding call for the mutant
to be wording.

    python3 scripts/mutation_survivors.py WORKDIR [--module checks.aws.iam] [--markdown] [--diffs]
"""
from __future__ import annotations

import argparse
import ast
import difflib
import functools
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Status(str, Enum):
    KILLED = "killed"
    SURVIVED = "survived"
    TIMEOUT = "timeout"
    NO_TESTS = "no tests"
    NOT_CHECKED = "not checked"
    OTHER = "suspicious"


def status_of(exit_code: int | None) -> Status:
    """mutmut 3's reading of a mutant's exit code (mutmut/stats.py, status_by_exit_code)."""
    if exit_code is None:
        return Status.NOT_CHECKED
    return {1: Status.KILLED, 3: Status.KILLED, 0: Status.SURVIVED, 5: Status.NO_TESTS, 33: Status.NO_TESTS,
            36: Status.TIMEOUT, 24: Status.TIMEOUT, -24: Status.TIMEOUT, 152: Status.TIMEOUT,
            255: Status.TIMEOUT}.get(exit_code, Status.OTHER)


#: The finding constructors of scanner.model: every argument is wording or bookkeeping.
FINDINGS = {"passed": "pass", "not_applicable": "pass", "failed": "fail", "error": "fail", "manual": "fail"}
#: Helpers of checks/ that build a finding: the positions (and keywords) of their wording arguments, each with its
#: subclass.
HELPERS: dict[str, dict[int | str, str]] = {
    "none_found": {1: "message"}, "missing": {0: "resource", 1: "message"},
    "flavor_gate": {2: "resource", "resource": "resource"},
    # s3 and cloudtrail: the words and the observed values of a shared check
    "_records": {3: "message", 5: "observed-fail"}, "_per_trail": {2: "message", 3: "message", 4: "observed-fail"},
    # aws/_common: the observed values of the not-applicable or error finding of a bucket outside the records scope
    "out_of_records_scope": {2: "observed-fail"},
    # ad/accounts: the resource and words of the pass, the words and the observed flag of each failure
    "flagged_users": {1: "resource", 3: "message", 4: "message", 6: "observed-fail", "flag": "observed-fail"},
    # linux/ssh: the words of a setting's pass and fail (``_setting``), the thing a yes/no setting refuses
    "_setting": {4: "message", 5: "message"}, "_expect": {3: "message"},
    # windows/_common and windows/password: the resource and words of a settings or account-flag finding, the value
    # a registry setting should have (only ever in a problem's text), the words of a password rule's pass and fail
    "settings_finding": {0: "resource", 2: "message"}, "flagged": {1: "resource", 3: "message", 4: "message"},
    "expect": {4: "message"}, "rdp_off": {1: "resource"}, "_rule": {1: "message", 2: "message"},
    # windows/challenge_network: the words of a network challenge's pass and fail (``_ask``'s good and bad)
    "_ask": {6: "message", 7: "message"},
}

#: Helper functions whose result is only ever a finding's wording or observed values (read where they are called):
#: every mutant in them is wording. Function (module.x_name, as mutmut names it) -> subclass.
WORDING_FUNCTIONS: dict[str, str] = {
    "checks.aws._common.x_where": "observed-fail",  # account and region, spread into every AWS finding
    "checks.ad.privilege.x__how": "message",  # "nested, primary group, disabled" in the failed message
}

#: Survivors reviewed by hand as equivalent: mutant name -> why it cannot change any result.
EXPLAINED: dict[str, str] = {
    "checks.aws.s3.x__covers_objects__mutmut_13":
        "'[' escaped as 'XX[[]XX' instead of '[[]': the probe ARN holds no '[', so a Resource with a '[' matches "
        "it neither way",
    # aws/_common (issue 15, fifth session)
    "checks.aws._common.x_grants_everything__mutmut_17":
        "actions upper-cased instead of lower-cased before the comparison with '*' and '*:*': neither has a "
        "letter, and no string upper-cases to them unless it lower-cases to them too",
    **{f"checks.aws._common.x_incomplete__mutmut_{n}": "the first word of an error key taken with split(' ') or "
       "split(' ', 2) instead of split(' ', 1): element [0] is the same string for every key" for n in (9, 12)},
    # aws/challenge_s3 (issue 15, sixth session): proven against tests/checks/aws/test_challenge_s3_logic.py
    "checks.aws.challenge_s3.x__each_bucket__mutmut_30":
        "the key given when needs_key is false, '' -> 'XXXX': only the listing challenge passes needs_key=False, "
        "and its judge ignores the key (it is not sent, shown or observed)",
    "checks.aws.challenge_s3.x_s3_anonymous_list_denied__mutmut_41":
        "needs_key=False -> None: _each_bucket only tests it for truth, and None is false as False is",
    # aws/challenge_iam (issue 15, sixth session): proven against tests/checks/aws/test_challenge_iam_logic.py
    **{f"checks.aws.challenge_iam.x__principals__mutmut_{n}": "the kind or name of the plan's stand-in principal "
       "changed: in a plan it is returned before the name filters, every step is met (so the kind's fail words "
       "are never used) and run_challenge drops a plan's findings" for n in (33, 34, 39, 40)},
    **{f"checks.aws.challenge_iam.x_iam_mfa_required__mutmut_{n}": "the pass words of the judge of a not-met "
       "step without MFA ('' -> None or 'XXXX'): that judge runs only when the step was not met, so it never "
       "passes" for n in (35, 45)},
    # aws/challenge_cloudtrail (issue 15, sixth session): proven against test_challenge_cloudtrail_logic.py
    **{f"checks.aws.challenge_cloudtrail.x__challenge__mutmut_{n}": "the ARN of the plan's stand-in test "
       "principal changed: a plan skips the scan-principal comparison, its stand-in account is the plan's, its "
       "steps name only the access key id and a plan's poll returns no finding" for n in (48, 53, 54)},
    # tls/challenge_tls (issue 15, fifth session)
    **{f"checks.tls.challenge_tls.x_certificate__mutmut_{n}": "the failure words given to _verdict changed: the "
       "certificate challenge calls _verdict only when no step failed, so those words are never used"
       for n in (77, 84)},
    "checks.ad.accounts.x_stale_accounts__mutmut_39":
        "'>' to '>=' against now + 1 day: equal only for a timestamp exactly one day ahead to the microsecond of "
        "the check's own clock reading, which no fact can be made to hit",
    "checks.ad.policy.x_krbtgt_password_age__mutmut_29":
        "'>' to '>=' against now + 1 day: as ad.accounts stale_accounts__mutmut_39",
    "checks.ad.accounts.x_flagged_users__mutmut_1":
        "the default flag '' to 'XXXX': shared_accounts' failures gain the observed value XXXX=True; the verdicts "
        "and every other field are unchanged",
    "checks.ad.accounts.x_password_not_required__mutmut_28":
        "flag= dropped: the failures lose the observed value password_not_required=True; verdicts unchanged",
    # linux/ssh: SshdConfig.get and .list look a key up in lower case, and the observed values and messages name
    # the key by their own literals, so a key read in upper case reads the same value
    **{f"checks.linux.ssh.{name}": "the sshd -T key read in upper case: SshdConfig.get/list lower-case it, and "
       "the finding names the key by its own literal" for name in (
           "x_idle_timeout__mutmut_11", "x_idle_timeout__mutmut_20", "x_idle_timeout__mutmut_33",
           "x_max_auth_tries__mutmut_11", "x_max_startups__mutmut_7", "x_rekey_limit__mutmut_7")},
    "checks.linux.ssh.x__seconds__mutmut_2":
        "'' dropped from the no-timeout guard: an empty value matches the time pattern with no number, sums to 0 "
        "and reads as no timeout (None) all the same",
    "checks.linux.ssh.x__seconds__mutmut_5":
        "'0' dropped from the no-timeout guard: '0' sums to 0 and reads as no timeout (None) all the same",
    "checks.linux.ssh.x__patterns__mutmut_9":
        "blank entries of a site's algorithm list kept as '' patterns: fnmatch('', name) matches only an empty "
        "name, and SshdConfig.list drops empty names, so no verdict or observed value changes",
    "checks.linux.ssh.x_max_startups__mutmut_25":
        "a single MaxStartups number read as drop rate 101 instead of 100: it differs only against a policy "
        "drop rate of exactly 101 %, which is not a rate (100 % drops every connection)",
    # linux/password
    "checks.linux.password.x_inactive__mutmut_17":
        "'' to 'XXXX' in the guard of useradd's INACTIVE: ''.isdigit() is False, so an empty value still reads as "
        "not set",
    "checks.linux.password.x_faillock__mutmut_89":
        "unlock_time=never read as -2 instead of -1: the value is only compared with 0 < n, false for both",
    **{f"checks.linux.password.x_faillock__mutmut_{n}": "the first observed even_deny_root/audit True instead of "
       "False: the loop over both flags sets each one before any finding is made" for n in (105, 108)},
    **{f"checks.linux.password.x_hash_rounds__mutmut_{n}": "the scheme of an unset or unknown ENCRYPT_METHOD "
       "('', None, 'XXXX', or DES written otherwise): only compared with sha512, sha256 and yescrypt, which none is"
       for n in (5, 7, 13, 14, 15)},
    **{f"checks.linux.password.x_hash_rounds__mutmut_{n}": "the scheme of a pam_unix line naming none ('' to None "
       "or 'XXXX'): only compared with sha512, sha256 and yescrypt, which neither is" for n in (66, 70)},
    "checks.linux.password.x_hashing__mutmut_8":
        "the default ENCRYPT_METHOD 'DES' written 'des': it is lower-cased at once",
    # linux/accounts
    **{f"checks.linux.accounts.x__day__mutmut_{n}": "_day's None branch changed: every caller passes a day "
       "number (expiry filters out unset dates), so the branch is never taken" for n in (1, 3)},
    **{f"checks.linux.accounts.x_unique_ids__mutmut_{n}": "zip's strict= changed: the names and the ids are "
       "built from the same entries, so they always have the same length" for n in (22, 25, 26)},
    **{f"checks.linux.accounts.x_root_path__mutmut_{n}": "'' or '.' dropped from the relative-element test: "
       "neither starts with '/' or '$', so the second half of the test names it with the same words"
       for n in (9, 10)},
    # linux/sudo, crypto, logs, backup, _common, files, time (issue 15, fifth session)
    "checks.linux.sudo.x_command_list__mutmut_35":
        "'m.group(2) if m else part' to always m.group(2): the tag pattern matches any text without a newline, and "
        "a SudoLine is one line (the collector splits on \\n and joins continuations with a space), so m is never "
        "None",
    "checks.linux.logs.x_syslog_file_mode__mutmut_12":
        "'fcm is None or mode is None' to 'fcm is None and mode is None': the created mode is None exactly when the "
        "configured mode is, so both tests agree",
    **{f"checks.linux.backup.x_restore_tested__mutmut_{n}": "the default of restore_test_record, _command or "
       "_format changed: the check never reads them (they declare the policy keys the collector reads the record "
       "with, and the runner passes the registered defaults)" for n in (2, 3, 4)},
    "checks.linux.crypto.x_containing_mount__mutmut_6":
        "the path '/' read as 'XX/XX': only a mount target 'XX/XX' or 'XX' could hold that, mount targets are "
        "absolute, and the root mount still holds it (t == '/')",
    **{f"checks.linux.crypto.x_encryption_layer__mutmut_{n}": "split('[') with no or another maximum: the first "
       "piece, the device before a subvolume, is the same" for n in (5, 8)},
    **{f"checks.linux.crypto.{name}": "the word 'plain' renamed: only 'encrypted' and 'ephemeral' pass and "
       "'unknown' is an error, every other word falls to the same failure, so 'plain' is never read by name"
       for name in ("x__storage__mutmut_34", "x__storage__mutmut_35", "x_swap__mutmut_52", "x_swap__mutmut_53")},
    "checks.linux.crypto.x__weak__mutmut_9":
        "blank entries of a site's weak list kept as '' patterns: fnmatchcase(name, '') matches only an empty "
        "name, and SshClientConfig.list drops empty names (as linux.ssh _patterns__mutmut_9)",
    "checks.linux._common.x_pam_setting__mutmut_25":
        "'conf or \"\"' to 'conf or \"XXXX\"': only a conf of None or '' changes, neither names a conf file (both "
        "look-ups give {}), and a None conf is unset on the next line anyway",

    # linux.audit (issue 15, fifth session, lead): run by mutmut in /tmp/m17 from main, then proven against the tests
    **{f"checks.linux.audit.x_audit_arches__mutmut_{n}": "the 's390x' literal of the native-arch test changed: "
       "s390x is in RUNS_32BIT with no switch, so its arches are always b64 and b32 and its native arch is never "
       "returned" for n in (18, 19)},
    "checks.linux.audit.x_auditd_conf__mutmut_89":
        "an unset max_log_file_action read as 'XXXX' instead of '': neither is 'rotate', so the same branch runs",
    "checks.linux.audit.x_privileged_commands__mutmut_1":
        "setuid_search_depth's default 3 -> 4: the check only declares the policy name; the collector reads the "
        "depth (SETUID_SEARCH_DEPTH) and the finding reports the fact's own depth",

    **{f"checks.windows.challenge_network.x__listening__mutmut_{n}": "one of the two b'' of the not-listening Probe "
       "dropped: Probe's sent and received default to b'' (the same value)" for n in (12, 13)},
    # windows (issue 15, fifth session): bounds against the check's own clock reading
    "checks.windows.accounts.x_stale__mutmut_10":
        "'<' to '<=' against now - stale_account_days: equal only for a last use exactly that many days before the "
        "check's own clock reading, to the microsecond, which no fact can be made to hit",
    "checks.windows.backup.x_recent__mutmut_44":
        "'>' to '>=' against now + 1 hour: as windows.accounts stale__mutmut_10",
    "checks.windows.backup.x_recent__mutmut_59":
        "'>' to '>=' between the hours since the last backup (from the check's own clock) and the RPO: equal only "
        "for a backup exactly backup_rpo_hours before that clock reading, to the microsecond",
    **{f"checks.windows.crypto.x_tls_protocols__mutmut_{n}": "the value name 'Enabled' read in another case: "
       "Registry.get compares names case-insensitively (as Windows does) and no finding names it" for n in (11, 12)},
    **{f"checks.windows.audit.x_policy__mutmut_{n}": "the value name SCENoApplyLegacyAuditPolicy read in another "
       "case: Registry.get compares names case-insensitively, and the message names it by its own literal"
       for n in (24, 25)},
    "checks.windows.audit.x_log_retention__mutmut_50":
        "'>' to '>=' against now + 1 day: as windows.accounts stale__mutmut_10",
    # linux/challenge_accounts (issue 15, sixth session): proven against test_challenge_accounts_logic.py
    **{f"checks.linux.challenge_accounts.{name}": "a codec name in upper case ('UTF-8', 'ASCII'): Python looks "
       "codecs up case-insensitively, so the same codec decodes" for name in (
           "x__encoded__mutmut_17", "x__faillock__mutmut_26", "x__faillock__mutmut_47", "x__session__mutmut_25",
           "x_journal_logons__mutmut_46", "x_audit_logons__mutmut_21", "x_parse_frames__mutmut_52",
           "x_parse_wtmp__mutmut_40")},
    **{f"checks.linux.challenge_accounts.{name}": "split with no or a larger maximum (or rsplit with none) before "
       "taking element [0] (or [-1]): the part before the first separator (after the last) is the same string"
       for name in ("x_audit_logons__mutmut_15", "x_audit_logons__mutmut_18", "x_audit_logons__mutmut_92",
                    "x_audit_logons__mutmut_95", "x_parse_wtmp__mutmut_34", "x_parse_wtmp__mutmut_37")},
    "checks.linux.challenge_accounts.x__session__mutmut_28":
        "'' to 'XXXX' for a session that printed no line: neither is a number, so no audit session is taken either "
        "way, and the step names a session only when one was taken",
    "checks.linux.challenge_accounts.x_audit_logons__mutmut_74":
        "a record without exe= read as exe 'XXXX' instead of '': neither is quoted nor upper-case hex, so both "
        "decode to None and the record is passed over",
    "checks.linux.challenge_accounts.x_lockout__mutmut_76":
        "reset=None instead of reset=False for the tally read: _faillock only tests reset for truth",
    "checks.linux.challenge_accounts.x__trail_read__mutmut_62":
        "the audit session ids joined with 'XXXX' instead of '': the one session logon appends at most one id, and "
        "a list of one or none joins to the same string with any separator",
    "checks.linux.challenge_accounts.x_parse_wtmp__mutmut_20":
        "struct.unpack_from without its offset 0: the offset defaults to 0",
    "checks.linux.challenge_accounts.x_parse_wtmp__mutmut_22":
        "the record type read unsigned ('<H') instead of signed: only the type 7 (USER_PROCESS) is kept, and its "
        "bytes read 7 both ways; every other bit pattern is another number both ways",
    "checks.linux.challenge_accounts.x_sightings__mutmut_13":
        "Sighting(..., '') to Sighting(...): the record defaults to ''",

    # ldap/challenge_flows (issue 15, sixth session): an access-log record's attributes read by another spelling
    **{f"checks.ldap.challenge_flows.x__audit_finding__mutmut_{n}": "an access-log attribute (reqStart, reqAuthzID, "
       "reqResult) read in lower or upper case: Entry.get looks names up in lower case, as LDAP compares attribute "
       "names case-insensitively" for n in (6, 7, 22, 23, 28, 29, 37, 38, 41, 42)},
    **{f"checks.ldap.challenge_flows.x__change_finding__mutmut_{n}": "zip's strict=False written strict=None or "
       "left out: both mean not strict" for n in (23, 26)},
    "checks.ldap.challenge_flows.x__audit_finding__mutmut_30":
        "a record without reqAuthzID compared as 'XXXX' instead of '': the test account's DN is never either (a DN "
        "has an '='), so such a record is not the account's either way",
    # linux/challenge_ssh (issue 15, sixth session)
    "checks.linux.challenge_ssh.x_ssh_root_key_refused__mutmut_2":
        "the default ssh_permit_root_login 'no' written 'NO': the challenge lower-cases the value before comparing",
    **{f"checks.linux.challenge_ssh.{name}": "the criterion or remediation words of a challenge, computed once "
       "when the module is imported (before any mutant is active); no step or verdict reads them"
       for name in (*(f"x__criterion__mutmut_{n}" for n in range(1, 6)), "x__remediation__mutmut_1",
                    "x__remediation__mutmut_2")},
}


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    status: Status
    duration: float


@dataclass(frozen=True)
class Verdict:
    klass: str  # wording | equivalent | logic
    detail: str  # the wording subclass, the reason of an equivalent one, or where a logic one changes
    diff: str


def read_mutants(work: Path) -> Iterator[Mutant]:
    for meta in sorted((work / "mutants" / "checks").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        durations = data.get("durations_by_key") or {}
        for name, code in sorted(data.get("exit_code_by_key", {}).items()):
            module = name.rsplit(".", 1)[0]
            yield Mutant(name, module, status_of(code), float(durations.get(name) or 0.0))


@functools.lru_cache(maxsize=4)
def _module_functions(path: Path) -> dict[str, ast.FunctionDef]:
    """The functions of one of mutmut's module files, parsed once (a module holds every mutant of its functions)."""
    return _functions(path.read_text())


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}


def _differences(a: ast.AST, b: ast.AST, path: tuple[ast.AST, ...]) -> Iterator[tuple[ast.AST, ...]]:
    """The ancestor chains (ending with the node, in ``a``) of the smallest nodes where ``a`` and ``b`` differ."""
    if type(a) is not type(b):
        yield (*path, a)
        return
    for field, va in ast.iter_fields(a):
        vb = getattr(b, field, None)
        if isinstance(va, ast.AST) and isinstance(vb, ast.AST):
            yield from _differences(va, vb, (*path, a))
        elif isinstance(va, list) and isinstance(vb, list):
            if len(va) != len(vb):
                yield (*path, a)
                return
            for x, y in zip(va, vb, strict=True):
                if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                    yield from _differences(x, y, (*path, a))
                elif x != y:
                    yield (*path, a)
                    return
        elif va != vb and field not in ("ctx", "type_comment", "kind"):
            yield (*path, a)
            return


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    return ""


def _slot(call: ast.Call, child: ast.AST) -> int | str | None:
    """Which argument of ``call`` holds ``child``: its position, its keyword, or None (the callee itself)."""
    for i, arg in enumerate(call.args):
        if arg is child:
            return i
    for kw in call.keywords:
        if kw is child or kw.value is child:
            return kw.arg or "**"
    return None


def _wording_slot(name: str, slot: int | str | None) -> str:
    """The wording subclass of argument ``slot`` of a call to ``name``, or "" when that argument is logic."""
    if name in FINDINGS:
        if slot == 0 or slot == "resource":
            return "resource"
        if slot == 1 or slot == "message":
            return "message"
        return "" if slot is None else f"observed-{FINDINGS[name]}"
    return "" if slot is None else HELPERS.get(name, {}).get(slot, "")


def _updated_name(call: ast.AST) -> str:
    """``obs`` for a call ``obs.update(...)``, else ""."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "update" \
            and isinstance(call.func.value, ast.Name):
        return call.func.value.id
    return ""


def _finding_names(fn: ast.FunctionDef) -> dict[str, str]:
    """Local names read only inside wording arguments of finding calls (``msg = f"..."; failed(arn, msg)``, a
    ``reasons`` joined into a message, an ``obs`` spread into observed values and extended by ``obs.update``)."""
    parents = {id(child): node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}
    uses: dict[str, set[str]] = {}
    for n in ast.walk(fn):
        if not (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)):
            continue
        child: ast.AST = n
        slot = ""
        while id(child) in parents:
            anc = parents[id(child)]
            if _updated_name(anc) == n.id and child is getattr(anc, "func", None):
                slot = "update"  # ``obs.update(...)``: its arguments are judged where they differ
                break
            if isinstance(anc, ast.Call) and _call_name(anc) in (*FINDINGS, *HELPERS):
                slot = _wording_slot(_call_name(anc), _slot(anc, child))
                break
            child = anc
        uses.setdefault(n.id, set()).add(slot)
    out = {}
    for name, slots in uses.items():
        slots = slots - {"update"}
        if not slots or "" in slots:
            continue
        if len(slots) == 1:
            out[name] = next(iter(slots))
        elif all(k.startswith("observed-") for k in slots):  # the same observed values of a pass and a fail
            out[name] = "observed-fail"
        else:  # e.g. a member list in the observed values and counted in the message
            out[name] = ",".join(sorted(slots))
    return out


def _wording_of(chain: tuple[ast.AST, ...], names: dict[str, str]) -> str:
    """The wording subclass of one difference, or "" when it is logic."""
    node = chain[-1]
    for i in range(len(chain) - 1, -1, -1):
        anc = chain[i]
        if _updated_name(anc) in names:  # an argument of ``obs.update(...)``, or one added or dropped
            return names[_updated_name(anc)]
        if isinstance(anc, ast.Call) and _call_name(anc) in (*FINDINGS, *HELPERS):
            name = _call_name(anc)
            if anc is node:  # the argument list itself differs: an argument dropped or added
                return "observed-" + FINDINGS[name] if name in FINDINGS else ""
            return _wording_slot(name, _slot(anc, chain[i + 1]))
        target = anc.targets[0] if isinstance(anc, ast.Assign) and len(anc.targets) == 1 else \
            anc.target if isinstance(anc, ast.AnnAssign) else None
        value, child = getattr(anc, "value", None), chain[i + 1] if i + 1 < len(chain) else None
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and child is value \
                and i + 2 < len(chain) and len(target.elts) == len(value.elts):  # ``arn, obs = (a, dict(...))``
            pairs = {id(v): t for t, v in zip(target.elts, value.elts, strict=True)}
            target = pairs.get(id(chain[i + 2]))
            value = child = chain[i + 2]
        if isinstance(target, ast.Name) and target.id in names and anc is not node and child is value:
            return names[target.id]
    return ""


def _dropped_wording(chain: tuple[ast.AST, ...], mutated: ast.AST) -> str:
    """The subclass when the difference is a helper call that lost trailing wording arguments (``flavor_gate(d,
    "ad", resource)`` -> ``flavor_gate(d, "ad")``: the default resource), else ""."""
    call = chain[-1]
    name = _call_name(call)
    if not isinstance(call, ast.Call) or name not in HELPERS:
        return ""
    dump = ast.dump(call.func)
    for other in ast.walk(mutated):
        if not (isinstance(other, ast.Call) and ast.dump(other.func) == dump and len(other.args) < len(call.args)
                and [ast.dump(x) for x in other.args] == [ast.dump(x) for x in call.args[:len(other.args)]]
                and [ast.dump(k) for k in other.keywords] == [ast.dump(k) for k in call.keywords]):
            continue
        kinds = {HELPERS[name].get(i, "") for i in range(len(other.args), len(call.args))}
        if "" not in kinds:
            return ",".join(sorted(kinds))
    return ""


def _diff(orig: ast.FunctionDef, mutant: ast.FunctionDef) -> str:
    a, b = ast.unparse(orig).split("\n"), ast.unparse(mutant).split("\n")
    b[0] = b[0].replace(mutant.name, orig.name, 1)
    return "\n".join(line for line in difflib.unified_diff(a, b, lineterm="", n=0) if not line.startswith(("---",
                                                                                                            "+++")))


def classify(work: Path, mutant: Mutant) -> Verdict:
    path = work / "mutants" / (mutant.module.replace(".", "/") + ".py")
    funcs = _module_functions(path)
    short = mutant.name.rsplit(".", 1)[1]
    base = short.rsplit("__mutmut_", 1)[0]
    orig, mutated = funcs[f"{base}__mutmut_orig"], funcs[short]
    mutated_renamed = ast.parse(ast.unparse(mutated).replace(short, f"{base}__mutmut_orig", 1)).body[0]
    diff = _diff(orig, mutated)
    if mutant.name in EXPLAINED:
        return Verdict("equivalent", EXPLAINED[mutant.name], diff)
    if f"{mutant.module}.{base}" in WORDING_FUNCTIONS:
        return Verdict("wording", WORDING_FUNCTIONS[f"{mutant.module}.{base}"], diff)
    names = _finding_names(orig)
    chains = list(_differences(orig, mutated_renamed, ()))
    kinds = [_wording_of(c, names) or _dropped_wording(c, mutated_renamed) for c in chains]
    if chains and all(kinds):
        return Verdict("wording", ",".join(sorted(set(kinds))), diff)
    where = next((c[-1] for c, k in zip(chains, kinds, strict=True) if not k), None)
    return Verdict("logic", f"line {getattr(where, 'lineno', '?')}", diff)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--module", action="append", default=[], help="only these modules (checks.aws.iam, ...)")
    ap.add_argument("--markdown", action="store_true", help="the per-module table of docs/mutation.md")
    ap.add_argument("--diffs", action="store_true", help="print each logic and equivalent survivor's diff")
    ap.add_argument("--list", default="", help="print the names of the survivors of this class")
    args = ap.parse_args(argv)
    rows: dict[str, Counter[str]] = {}
    survivors: list[tuple[Mutant, Verdict]] = []
    for m in read_mutants(args.work):
        if args.module and m.module not in args.module:
            continue
        row = rows.setdefault(m.module, Counter())
        row["mutants"] += 1
        row[m.status.value] += 1
        if m.status is Status.SURVIVED:
            v = classify(args.work, m)
            row[f"survived {v.klass}"] += 1
            survivors.append((m, v))
    cols = ["mutants", "killed", "survived wording", "survived equivalent", "survived logic", "timeout", "no tests",
            "not checked"]
    if args.markdown:
        print("| module | " + " | ".join(cols) + " |")
        print("|---|" + "---|" * len(cols))
        for module, row in sorted(rows.items()):
            if row["mutants"] and row["mutants"] != row["not checked"]:
                print(f"| `{module}` | " + " | ".join(f"{row[c]:,}" for c in cols) + " |")
    else:
        for module, row in sorted(rows.items()):
            if row["mutants"] != row["not checked"]:
                print(f"{module}: " + ", ".join(f"{c} {row[c]}" for c in cols if row[c]))
    for m, v in survivors:
        if args.list and v.klass == args.list:
            print(m.name)
        if args.diffs and v.klass != "wording":
            print(f"\n## {m.name} [{v.klass}: {v.detail}]\n{v.diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
