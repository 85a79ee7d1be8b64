#!/bin/sh
# `make run`: postino serve in the foreground on the defaults (see README.md,
# "First run") plus the Web reader on 127.0.0.1:2080. postino itself never
# turns the Web reader on unless configured, so on first use this writes
# postino-run.conf next to postino-data: the default listeners and
# `listen web 127.0.0.1:2080`. It is written only when missing, so an edited
# one is kept; `-c FILE`, $POSTINO_CONFIG or /etc/postino/postino.conf win
# over it as they win over the defaults. The first line says how to log in.
# Started as root, serve drops to the user postino, which must reach
# ./postino-data; when the checkout lies below a folder that user cannot
# enter (a 0700 home such as /root), the server is started from
# /var/lib/postino/run instead (data in /var/lib/postino/run/postino-data),
# and this is said on the next line. Any argument is passed to serve.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/postino"

explicit=""
for a in "$@"; do
    case "$a" in -c|-c*) explicit=1 ;; esac
done
if [ -n "${POSTINO_CONFIG:-}" ] || [ -e /etc/postino/postino.conf ]; then
    explicit=1
fi

moved=""
if [ "$(id -u)" -eq 0 ] && id postino >/dev/null 2>&1 && [ -z "$explicit" ] &&
   ! setpriv --reuid=postino --regid=postino --clear-groups -- test -x "$PWD" 2>/dev/null; then
    run=/var/lib/postino/run
    install -d -m 711 /var/lib/postino "$run"
    moved="make run: the user postino cannot reach $PWD (a folder above it is closed); serving from $run, data in $run/postino-data"
    cd "$run"
fi

if [ -n "$explicit" ]; then
    [ -z "$moved" ] || echo "$moved" >&2
    exec "$bin" serve "$@"
fi

conf="$PWD/postino-run.conf"
if [ ! -e "$conf" ]; then
    cat > "$conf" <<EOF
# postino-run.conf: written once by \`make run\` (scripts/run.sh), never
# overwritten: edit it freely, or delete it to get this one back.
# postino's built-in defaults, plus the Web reader on loopback. Relative
# paths are read from this folder; the data is in ./postino-data.
listen smtp       127.0.0.1:2525
listen submission 127.0.0.1:2587
listen pop3       127.0.0.1:2110
listen web        127.0.0.1:2080
local_domains     localhost

# Logging in (POP3, the Web) needs a users file, one "address:HASH" a line:
#   echo "bob@localhost:\$(echo pw | $bin passwd)" >> users
# in this folder, then uncomment the next line and start \`make run\` again.
# With a users file, only the addresses in it are mailboxes here.
#users users
EOF
    chmod 644 "$conf"
fi
if grep -q '^[[:space:]]*users[[:space:]]' "$conf"; then
    how="log in with an address of the users file"
else
    how="to log in, add a users file (hashes from $bin passwd) as the comment in $conf says"
fi
echo "make run: the Web reader is on http://127.0.0.1:2080/ ($how); config $conf" >&2
[ -z "$moved" ] || echo "$moved" >&2
exec "$bin" serve -c "$conf" "$@"
