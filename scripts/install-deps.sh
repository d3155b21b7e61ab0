#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (run as root):
# - the Debian packages for the lab servers (OpenSSH, OpenLDAP, Samba AD) and for PDF output (the DejaVu
#   fonts; poppler and qpdf for the PDF tests);
# - one virtual environment per supported Python (the "Programming Language :: Python :: 3.X" classifiers of
#   pyproject.toml), in .venvs/py3.X, each with gxpscan installed editable with its test extras;
# Nothing is installed into the python3 on PATH: run tests by hand with a venv's Python, e.g.
#   .venvs/py3.13/bin/python -m pytest -q tests/connectors
# Interpreters are looked up under pyenv ($PYENV_ROOT, default ~/.pyenv), then as python3.X on PATH. A missing
# one is skipped with a note; with CI=true it is an error. Running it again only redoes what changed: a venv is
# rebuilt when its interpreter changed, and reinstalled when pyproject.toml changed.
# Installing a Debian package here never starts its system-wide service. Recommended packages are installed
# too, as on the machines the suite was proven on.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi

DEB_PACKAGES=(
  openssh-server openssh-client iproute2 util-linux procps sudo openssl jq strace libpam-modules-bin
  # --diff-base and the pre-commit hook tests run git on real repositories
  git
  slapd ldap-utils
  samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools
  # WinRM Kerberos: pykerberos, gssapi and krb5 (PyPI) build against MIT Kerberos (krb5-config, headers)
  libkrb5-dev gcc
  # OQ documents as PDF: the DejaVu fonts it embeds; for the PDF tests poppler-utils (pdftotext, pdftoppm) and qpdf
  fonts-dejavu-core poppler-utils qpdf
  # the history tests start a PostgreSQL server of their own (initdb, pg_ctl); the system cluster is not used
  postgresql
  # the dashboard test renders the page in headless Chromium (issue 13)
  chromium
  # the logon-audited challenge test runs one audit daemon of its own for the session (issue 12)
  auditd
  # ... and a systemd-journald per lab host (systemd-journald, systemd-cat, journalctl): not in a minimal image
  systemd
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  echo "krb5-config krb5-config/default_realm string EXAMPLE.TEST" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The supported Python versions, oldest first, as pyproject.toml's classifiers state them.
supported_pythons() {
  grep -o '"Programming Language :: Python :: 3\.[0-9]*"' pyproject.toml | grep -o '3\.[0-9]*' | sort -t. -k2,2n
}

# The interpreter for version $1 (e.g. 3.12): the newest pyenv build of it, else python3.12 on PATH.
find_python() {
  local want=$1 candidate
  for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$want".*/bin/python3 2>/dev/null | sort -rV) \
                   "$(command -v "python$want" || true)"; do
    if [ -x "$candidate" ] &&
       [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# .venvs/py$1 built from interpreter $2, gxpscan installed editable with its test extras.
ensure_venv() {
  local version=$1 python=$2 dir=.venvs/py$1 stamp
  if [ ! -x "$dir/bin/python" ] || ! grep -qx "home = $(dirname "$python")" "$dir/pyvenv.cfg" 2>/dev/null; then
    echo "install-deps: creating $dir with $python"
    rm -rf "$dir"
    "$python" -m venv "$dir"
  fi
  stamp="$(sha256sum pyproject.toml | cut -d' ' -f1) $("$dir/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  if [ "$(cat "$dir/.gxpscan-installed" 2>/dev/null)" != "$stamp" ]; then
    echo "install-deps: installing gxpscan[test] into $dir (no .pyc compiled up front: imports compile what they use)"
    # PEP 517 builds for every sdist: pykerberos has only a setup.py, and a 3.10/3.11 venv has setuptools but
    # not wheel, so its legacy build would fail ("invalid command 'bdist_wheel'")
    PIP_USE_PEP517=1 "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-compile -e '.[test]'
    echo "$stamp" > "$dir/.gxpscan-installed"
  fi
}

in_ci() { case "${CI:-}" in 1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]) return 0 ;; *) return 1 ;; esac; }

# The venvs are built side by side (pip waits on the package index and on the disk as much as on the CPU).
status=0
builds=()
for version in $(supported_pythons); do
  if python=$(find_python "$version"); then
    ensure_venv "$version" "$python" &
    builds+=("$!:$version")
  elif in_ci; then
    echo "install-deps: ERROR: no Python $version found (pyenv under ${PYENV_ROOT:-$HOME/.pyenv}, or python$version on PATH)" >&2
    status=1
  else
    echo "install-deps: note: no Python $version found, its tests will be skipped (CI=true makes this an error)" >&2
  fi
done
for build in "${builds[@]}"; do
  if ! wait "${build%%:*}"; then
    echo "install-deps: ERROR: building .venvs/py${build#*:} failed" >&2
    status=1
  fi
done
exit $status
