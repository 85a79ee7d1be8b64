#!/bin/sh
# Checks `make install`: with DESTDIR and PREFIX it puts the binary and both
# man pages where man(1) finds them, the binary runs from there, and the pages
# render without a groff warning. The systemd unit lands in
# PREFIX/lib/systemd/system naming PREFIX/sbin/postino and passes
# `systemd-analyze verify` (its man pages found where they were installed);
# data_dir /var/lib/postino is made (the unit's only writable folder);
# the example /etc/postino/postino.conf is installed once, never over an
# existing one, and `postino check` accepts it once the users, aliases and
# certificate files it names exist. Prints "install: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "install: FAIL: $*"; }

make -s install DESTDIR="$dest" PREFIX=/opt/postino >/dev/null || bad "make install exited $?"
root="$dest/opt/postino"
for f in sbin/postino lib/postino/postino-web.so share/man/man8/postino.8 share/man/man5/postino.conf.5; do
    [ -f "$root/$f" ] && ok || bad "$f not installed"
done
[ -x "$root/sbin/postino" ] && "$root/sbin/postino" --version | grep -q '^postino ' && ok ||
    bad "installed binary does not run"
for page in share/man/man8/postino.8 share/man/man5/postino.conf.5; do
    [ -f "$root/$page" ] || continue
    warn=$(groff -man -Tutf8 -ww -z "$root/$page" 2>&1)
    [ -z "$warn" ] && ok || bad "$page: $warn"
    MANPATH="$root/share/man" man -P cat "$(basename "$page" | sed 's/\.[0-9]$//')" 2>/dev/null |
        grep -q EXAMPLES && ok || bad "man does not find $page or it has no EXAMPLES"
done
# The Web reader is documented where a reader looks: its section and its keys.
MANPATH="$root/share/man" man -P cat postino 2>/dev/null | grep -q '^WEB READER' && ok ||
    bad "postino(8) has no WEB READER section"
MANPATH="$root/share/man" man -P cat postino.conf 2>/dev/null | grep -q 'timeout_web' && ok ||
    bad "postino.conf(5) does not describe timeout_web"

unit="$root/lib/systemd/system/postino.service"
[ -f "$unit" ] && ok || bad "the systemd unit is not installed"
grep -q '^ExecStart=/opt/postino/sbin/postino serve -c /etc/postino/postino.conf$' "$unit" &&
    ok || bad "the installed unit does not start /opt/postino/sbin/postino"
# verify needs the binary at the path the unit names: the installed one, under DESTDIR.
sed "s|/opt/postino/sbin/postino|$root/sbin/postino|" "$unit" >"$dest/postino.service"
out=$(MANPATH="$root/share/man" systemd-analyze verify "$dest/postino.service" 2>&1)
[ -z "$out" ] && ok || bad "systemd-analyze verify: $out"

[ "$(stat -c %a "$dest/var/lib/postino" 2>/dev/null)" = 711 ] && ok ||
    bad "data_dir /var/lib/postino is not made (mode 711)"

conf="$dest/etc/postino/postino.conf"
cmp -s "$conf" contrib/postino.conf && ok || bad "the example config is not installed as $conf"
etc=$(dirname "$conf")
: >"$etc/users"
: >"$etc/aliases"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.org \
    -keyout "$etc/key.pem" -out "$etc/cert.pem" 2>/dev/null || bad "openssl req failed"
out=$("$root/sbin/postino" check -c "$conf" 2>&1) && ok || bad "postino check: $out"
echo "# the operator's own line" >>"$conf"
make -s install DESTDIR="$dest" PREFIX=/opt/postino >/dev/null || bad "make install again exited $?"
tail -n 1 "$conf" | grep -q "the operator's own line" && ok ||
    bad "a second make install overwrote the config"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
