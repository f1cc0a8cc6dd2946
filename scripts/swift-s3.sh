#!/usr/bin/env bash
# An OpenStack Swift all-in-one with the s3api middleware, for testing the S3 blob store against a real
# S3-compatible server (Debian bookworm packages; run as root).
#
#   scripts/swift-s3.sh start|stop|status [DIR]     DIR holds config, data, pids and logs (default /tmp/berth-swift)
#
# S3 endpoint http://127.0.0.1:8080, path-style, region us-east-1, access key "test:tester", secret "testing".
# The storage servers listen on 6200-6202 and memcached on 11211. `start` is a no-op when the endpoint already
# answers, so tests and CI can call it unconditionally.
set -euo pipefail

cmd=${1:-start}
dir=${2:-/tmp/berth-swift}
port=8080
url="http://127.0.0.1:$port/"

answers() { curl -s -o /dev/null -m 2 "$url"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

case "$cmd" in
  start) ;;
  stop)
    for pid in "$dir"/run/*.pid; do
      [ -f "$pid" ] || continue
      kill "$(cat "$pid")" 2>/dev/null || true
      rm -f "$pid"
    done
    exit 0
    ;;
  status)
    if answers; then echo "swift s3api answers on $url"; else echo "swift s3api is not running"; exit 1; fi
    exit 0
    ;;
  *)
    echo "usage: $0 start|stop|status [DIR]" >&2
    exit 2
    ;;
esac

# Parallel test files may all ask for Swift at once: the first starts it, the others wait and find it up.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if command -v curl >/dev/null && answers; then
  echo "swift s3api already up on $url"
  exit 0
fi

need=()
for tool in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder memcached curl; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing swift (missing: ${need[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq swift swift-proxy swift-object swift-container swift-account memcached curl >/dev/null
fi

mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/run" "$dir/log" /etc/swift
cd "$dir/etc"

# Swift reads the hash path settings from /etc/swift/swift.conf whatever swift_dir says.
printf '[swift-hash]\nswift_hash_path_suffix = berthtest\nswift_hash_path_prefix = berthtest\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' >swift.conf
cmp -s swift.conf /etc/swift/swift.conf || cp swift.conf /etc/swift/swift.conf

for server in account:6202 container:6201 object:6200; do
  name=${server%%:*}
  server_port=${server##*:}
  if [ ! -f "$name.ring.gz" ]; then
    swift-ring-builder "$name.builder" create 10 1 1 >/dev/null
    swift-ring-builder "$name.builder" add "r1z1-127.0.0.1:$server_port/d1" 1 >/dev/null
    swift-ring-builder "$name.builder" rebalance >/dev/null 2>&1 || true
  fi
  cat >"$name-server.conf" <<EOC
[DEFAULT]
devices = $dir/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $server_port
swift_dir = $dir/etc
user = root
workers = 1
log_level = WARNING
[pipeline:main]
pipeline = $name-server
[app:$name-server]
use = egg:swift#$name
# No updater daemons run here: a container update that times out would stay out of listings for good.
container_update_timeout = 10
EOC
done

cat >proxy-server.conf <<EOC
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
swift_dir = $dir/etc
user = root
workers = 1
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:11211
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOC

# memcached may already serve another local Swift; one is enough.
if ! (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null; then
  memcached -d -u root -l 127.0.0.1 -p 11211 -P "$dir/run/memcached.pid" 9>&-
fi
for name in account container object proxy; do
  alive "$dir/run/$name.pid" && continue
  # setsid: the servers outlive the shell (or test run) that started them; 9>&-: they must not hold the lock.
  setsid "swift-$name-server" "$dir/etc/$name-server.conf" </dev/null >"$dir/log/$name.log" 2>&1 9>&- &
  echo $! >"$dir/run/$name.pid"
done

for _ in $(seq 1 100); do
  if answers; then
    echo "swift s3api up on $url"
    exit 0
  fi
  sleep 0.2
done
echo "swift s3api did not answer on $url; logs:" >&2
tail -n 20 "$dir"/log/*.log >&2
exit 1
