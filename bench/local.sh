#!/bin/sh
# bench/local.sh: reception + local delivery throughput of Postilion, with
# ../shared/tools/mta-bench.sh (smtp-source from Debian's postfix package).
# Starts a throwaway instance from an installed PREFIX (default: the one
# ./quickstart installs) on 127.0.0.1:$PORT with domain bench.test, runs the
# benchmark, stops the instance and removes it.
#   usage: bench/local.sh [PREFIX]   (env: N SESSIONS REPS SIZE PORT, as mta-bench.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$top/demo/prefix}
port=${PORT:-2526}
bench=${MTA_BENCH:-$top/../shared/tools/mta-bench.sh}
dir=$(mktemp -d /tmp/postilion-bench.XXXXXX)
chmod 755 "$dir"
postilion="$prefix/sbin/postilion"
if [ "$(id -u)" -eq 0 ]; then owner=postilion; vowner=vmail; else
	owner=$(id -un); vowner=$owner; fi
mkdir -p "$dir/etc"
cat >"$dir/etc/main.cf" <<CONF
queue_directory = $dir/queue
virtual_mailbox_base = $dir/mail
maillog_file = $dir/maillog
mail_owner = $owner
virtual_mailbox_owner = $vowner
myhostname = bench.local
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = hash:\$config_directory/vmailbox
virtual_password_maps = hash:\$config_directory/passwd
CONF
cat >"$dir/etc/master.cf" <<CONF
127.0.0.1:$port inet n - y - 100 smtpd
qmgr      unix  n  -  y  300  1  qmgr
local     unix  -  n  y  -    -  deliver -t local
smtp      unix  -  -  y  -    -  deliver -t smtp
CONF
: >"$dir/etc/vmailbox"; : >"$dir/etc/passwd"
echo bench-password | "$postilion" -c "$dir/etc" user add bench@bench.test
"$postilion" -c "$dir/etc" start
trap '"$postilion" -c "$dir/etc" stop >/dev/null 2>&1; rm -rf "$dir"' EXIT
mkdir -p "$dir/mail/bench.test/bench/new"
[ "$(id -u)" -eq 0 ] && chown -R "$vowner" "$dir/mail/bench.test"
CPU_PID=$(cat "$dir/queue/pid/master.pid") LABEL=${LABEL:-postilion} \
	bash "$bench" local "127.0.0.1:$port" "$dir/mail/bench.test/bench"
