#!/bin/sh
# Checks `make install`: with DESTDIR and PREFIX it puts the binary and both
# man pages where man(1) finds them, the binary runs from there, and the pages
# render without a groff warning. Prints "install: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "install: FAIL: $*"; }

make -s install DESTDIR="$dest" PREFIX=/opt/postino >/dev/null || bad "make install exited $?"
root="$dest/opt/postino"
for f in sbin/postino share/man/man8/postino.8 share/man/man5/postino.conf.5; do
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
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
