#!/bin/sh
# `make run`: postino serve in the foreground on the defaults (see README.md,
# "First run"). Started as root, serve drops to the user postino, which must
# reach ./postino-data; when the checkout lies below a folder that user cannot
# enter (a 0700 home such as /root), the server is started from
# /var/lib/postino/run instead, so its data is /var/lib/postino/run/postino-data,
# and this is said on the first line. Any argument is passed to serve.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/postino"
if [ "$(id -u)" -eq 0 ] && id postino >/dev/null 2>&1 && [ -z "${POSTINO_CONFIG:-}" ] &&
   [ ! -e /etc/postino/postino.conf ] &&
   ! setpriv --reuid=postino --regid=postino --clear-groups -- test -x "$PWD" 2>/dev/null; then
    run=/var/lib/postino/run
    install -d -m 711 /var/lib/postino "$run"
    echo "make run: the user postino cannot reach $PWD (a folder above it is closed);" \
         "serving from $run, data in $run/postino-data" >&2
    cd "$run"
fi
exec "$bin" serve "$@"
