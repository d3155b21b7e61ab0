#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (run as root):
# the Debian packages for the lab servers (OpenSSH, OpenLDAP, Samba AD), for PDF output (Pango, fonts, poppler)
# and gxpscan with its test extras.
# Installing a Debian package here never starts its system-wide service. Recommended packages are installed
# too, as on the machines the suite was proven on.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi

DEB_PACKAGES=(
  openssh-server openssh-client iproute2 util-linux procps sudo openssl
  slapd ldap-utils
  samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools
  # OQ documents as PDF (WeasyPrint needs Pango and a font); poppler-utils for the PDF tests (pdftotext, pdftoppm)
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils
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

python3 -m pip install -q -e '.[test]'
