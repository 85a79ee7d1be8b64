#!/bin/sh
# Installs the Debian 12 packages postino needs to build, test and benchmark,
# only those that are missing. Safe to run again; does nothing when all are present.
set -eu

# postfix: its smtp-source/smtp-sink drive the benchmark, and a private
# Postfix instance is the DSN interoperability peer of the integration tests.
# dovecot-imapd: a private Dovecot (own config, base_dir and free loopback
# port) reads postino's Maildirs in t_31_imap_dovecot; a system Dovecot the
# package may start on 143/993 is not used and does not get in the way.
# bsd-mailx: a real mail(1) that calls sendmail, for t_36_sendmail (it needs an
# MTA package; postfix, installed in the same run, is the one it gets).
# man-db, groff-base: tests/install.sh renders the installed man pages.
# libsystemd-dev: sd_notify(3), the readiness of `postino serve` under systemd.
# systemd: its systemd-analyze verifies and rates contrib/postino.service
# (t_46_systemd, tests/install.sh); nothing is started.
# python3-prometheus-client: t_44_metrics parses `listen metrics` with its parser.
# libidn2-dev: IDNA2008 U-label <-> A-label conversion of domains (SMTPUTF8);
# libunistring-dev: UTF-8 validity and NFC checks of UTF-8 addresses.
# libopendkim-dev: DKIM signing and verification (RFC 6376, 8463);
# libspf2-dev: SPF checks (RFC 7208); libopendmarc-dev: DMARC policy (RFC 7489);
# publicsuffix: the public suffix list, for DMARC's organizational domain;
# libsqlite3-dev: the tracking store. python3-dkim (with python3-nacl for
# ed25519 and python3-dnspython for its DNS) verifies postino's signatures and
# signs test mail in t_63..t_65; python3-authres parses Authentication-Results.
# libgmime-3.0-dev: MIME parsing of the Web reader (charsets, RFC 2047/2231 names);
# libxml2-dev: its HTML parser, under the sanitizer of HTML mail shown on the Web;
# chromium, chromium-driver, python3-selenium: the Web reader's tests in a real,
# headless browser.
PKGS="build-essential pkg-config libevent-dev libssl-dev libc-ares-dev libcrypt-dev
libcmocka-dev python3 python3-aiosmtpd dnsmasq-base openssl clang postfix dovecot-imapd
bsd-mailx man-db groff-base libsystemd-dev systemd python3-prometheus-client
libidn2-dev libunistring-dev libopendkim-dev libspf2-dev libopendmarc-dev
libsqlite3-dev python3-dkim python3-nacl python3-dnspython python3-authres publicsuffix
libgmime-3.0-dev libxml2-dev chromium chromium-driver python3-selenium"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# The system user `postino serve` drops to when started as root (run_as, its
# default); the integration tests run as root and so run as this user.
if ! getent passwd postino >/dev/null; then
  echo "install-deps: creating the system user postino" >&2
  $SUDO useradd --system --user-group --home-dir /var/lib/postino --no-create-home \
    --shell /usr/sbin/nologin postino
fi

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure itself as the system MTA: we only want its tools.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
