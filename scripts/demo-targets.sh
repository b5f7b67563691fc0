#!/usr/bin/env bash
# Prepares the quick start's optional demo targets (scripts/quickstart.sh --with mariadb,redis runs it):
#
#   scripts/demo-targets.sh [--data-dir DIR] [--key-dir DIR] mariadb,redis
#
# mariadb  Applies scripts/demo-mariadb.sql to the machine's MariaDB as its root over the socket (`mariadb -u
#          root`, else `sudo -n mariadb`; STINT_DEMO_MARIADB_CLIENT names another client command), giving
#          stint_admin a random password. Stint reaches it on 127.0.0.1:${STINT_DEMO_MARIADB_PORT:-3306}.
# redis    Starts a redis-server of the demo's own (files in <data dir>/demo-redis, port 6380 or the next free one;
#          STINT_DEMO_REDIS_PORT fixes it), unless it is running already. Not the machine's Redis: that one has no
#          aclfile, so the ACL SAVE Stint needs fails there, and its default user is open to anyone local; making
#          it fit would mean changing a shared service. This one has an aclfile, `default` off, and stint_admin
#          exactly as docs/redis-target.md sets it up (scripts/demo-redis.acl), with a random password.
#
# Each writes the admin URL Stint uses to <key dir>/demo-<target>.url (0600, in the key folder like the demo's
# other secrets), which `stint server --demo` reads into STINT_DEMO_<TARGET>_URL (src/app/demo.ts). When
# STINT_DEMO_<TARGET>_URL is already set, that target is used as it is and nothing is prepared for it.
# Running it again converges: the same passwords, the running Redis kept.
#
# Exit status: 0 every target prepared; 1 one could not be (the reason on stderr); 2 bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/demo-targets.sh [--data-dir DIR] [--key-dir DIR] TARGETS   (TARGETS: mariadb,redis)" >&2
}
say() { echo "demo target $*" >&2; }

data_dir=${STINT_DATA_DIR:-data}
key_dir=${STINT_KEY_DIR:-}
targets=
while [ $# -gt 0 ]; do
  case $1 in
  --data-dir | --key-dir)
    [ $# -ge 2 ] || { usage; exit 2; }
    if [ "$1" = --data-dir ]; then data_dir=$2; else key_dir=$2; fi
    shift 2
    ;;
  --data-dir=*) data_dir=${1#*=} && shift ;;
  --key-dir=*) key_dir=${1#*=} && shift ;;
  -h | --help) usage && exit 0 ;;
  -*) usage && exit 2 ;;
  *) targets=${targets:+$targets,}$1 && shift ;;
  esac
done
# As `stint server --demo` places it (src/app/key-location.ts): beside the data folder, never in it.
key_dir=${key_dir:-${data_dir%/}-keys}

wanted=()
IFS=', ' read -r -a names <<<"$targets"
for name in "${names[@]}"; do
  case $name in
  '') ;;
  mariadb | redis) [[ " ${wanted[*]} " == *" $name "* ]] || wanted+=("$name") ;;
  *)
    echo "unknown demo target '$name' (known: mariadb, redis)" >&2
    exit 2
    ;;
  esac
done
[ ${#wanted[@]} -gt 0 ] || exit 0

umask 077
mkdir -p "$data_dir" "$key_dir"

new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
# The password of the admin URL kept in file $1 (made by an earlier run), or nothing.
password_in() { [ -s "$1" ] && sed -nE 's#^[a-z]+://stint_admin:([0-9a-f]{16,})@.*$#\1#p' "$1" | head -n 1 || true; }
write_url() { printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }

prepare_mariadb() {
  if [ -n "${STINT_DEMO_MARIADB_URL:-}" ]; then
    say "mariadb: STINT_DEMO_MARIADB_URL is set: used as it is (prepare that server with scripts/demo-mariadb.sql)"
    return 0
  fi
  local url_file="$key_dir/demo-mariadb.url" port=${STINT_DEMO_MARIADB_PORT:-3306} pw client=()
  pw=$(password_in "$url_file")
  [ -n "$pw" ] || pw=$(new_password)
  # Written first: a run that cannot apply the SQL leaves the password the next run (or the hint below) sets.
  write_url "$url_file" "mysql://stint_admin:$pw@127.0.0.1:$port/stint_demo" || return 1
  local by_hand="STINT_DEMO_MARIADB_CLIENT='sudo mariadb' scripts/demo-targets.sh --data-dir '$data_dir' --key-dir '$key_dir' mariadb"
  if [ -n "${STINT_DEMO_MARIADB_CLIENT:-}" ]; then
    read -r -a client <<<"$STINT_DEMO_MARIADB_CLIENT"
  elif ! command -v mariadb >/dev/null 2>&1; then
    say "mariadb: no mariadb client here (Debian: apt-get install mariadb-client); then run $by_hand"
    return 1
  elif mariadb -u root -e 'SELECT 1' </dev/null >/dev/null 2>&1; then
    client=(mariadb -u root)
  elif command -v sudo >/dev/null 2>&1 && sudo -n mariadb -e 'SELECT 1' </dev/null >/dev/null 2>&1; then
    client=(sudo -n mariadb)
  else
    say "mariadb: cannot log in as the server's root (tried mariadb -u root and sudo -n mariadb); run $by_hand"
    return 1
  fi
  # The SQL replaces stint_admin (CREATE OR REPLACE): only one this data folder made, whose password is the one
  # kept in its key folder. Anyone else's (a real deployment's on this server) is never touched.
  local others
  if ! others=$("${client[@]}" -N -B -e "SELECT COUNT(*) FROM mysql.user WHERE User = 'stint_admin' AND
      NOT (Host = '%' AND Password = PASSWORD('$pw'))" </dev/null); then
    say "mariadb: cannot read mysql.user as the server's root (above)"
    return 1
  fi
  if [ "$others" != 0 ]; then
    say "mariadb: a stint_admin account exists on this server that this data folder did not make (its password" \
      "is not the one in $url_file); the demo does not replace it. A real deployment's? Set STINT_DEMO_MARIADB_URL" \
      "to its URL instead. A leftover demo's? Drop it (DROP USER 'stint_admin'@'%') and run again"
    return 1
  fi
  if ! sed "s/'change-me'/'$pw'/" scripts/demo-mariadb.sql | "${client[@]}"; then
    say "mariadb: scripts/demo-mariadb.sql failed (above); requests on demo-mariadb fail at issuance until it runs"
    return 1
  fi
  say "mariadb: stint_demo, its two roles and stint_admin are ready on 127.0.0.1:$port"
}

# Whether a redis-server on 127.0.0.1:$1 lets stint_admin in with password $2: the demo's own, running.
redis_is_ours() {
  REDISCLI_AUTH=$2 timeout 3 redis-cli --no-auth-warning -h 127.0.0.1 -p "$1" --user stint_admin ACL USERS \
    2>/dev/null | grep -qx stint_admin
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
redis_pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = redis-server ]
}

# Demo data, written once through a throwaway server reachable only on a socket inside the data folder (its
# default user is open, the folder is 0700), saved to dump.rdb, which the real server then loads. The real server
# never has a user with standing key access: only what Stint issues can read or write.
seed_redis() {
  local dir=$1 sock="$1/seed.sock" i
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" --dbfilename dump.rdb \
    --save '' --appendonly no --daemonize yes --pidfile "$dir/seed.pid" --logfile "$dir/seed.log" || return 1
  for i in $(seq 50); do
    [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
  redis-cli -s "$sock" >/dev/null <<'EOF' || return 1
HSET demo:account:1 owner alice balance 1200.00
HSET demo:account:2 owner bob balance 310.50
HSET demo:account:3 owner carol balance 9875.25
SET demo:greeting "hello from the demo Redis"
SAVE
EOF
  redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  for i in $(seq 50); do
    redis_pid_alive "$dir/seed.pid" || break
    sleep 0.1
  done
  rm -f "$dir/seed.pid" "$dir/seed.log" "$sock"
  [ -s "$dir/dump.rdb" ]
}

prepare_redis() {
  if [ -n "${STINT_DEMO_REDIS_URL:-}" ]; then
    say "redis: STINT_DEMO_REDIS_URL is set: used as it is (docs/redis-target.md says how to prepare that server)"
    return 0
  fi
  local dir="$data_dir/demo-redis" url_file="$key_dir/demo-redis.url" pw port bin
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  local conf="$dir/redis.conf" acl="$dir/users.acl" pidfile="$dir/redis.pid"
  pw=$(password_in "$url_file")
  [ -n "$pw" ] || pw=$(new_password)
  port=${STINT_DEMO_REDIS_PORT:-$(sed -n 's/^port \([0-9]*\)$/\1/p' "$conf" 2>/dev/null | head -n 1)}
  # Written at once (and again when the port changes below): whatever fails next, the server still starts, and
  # requests on demo-redis fail at issuance, saying the target cannot be reached.
  write_url "$url_file" "redis://stint_admin:$pw@127.0.0.1:${port:-6380}" || return 1
  for bin in redis-server redis-cli; do
    command -v "$bin" >/dev/null 2>&1 && continue
    say "redis: no $bin here (Debian: apt-get install redis-server)"
    return 1
  done
  if [ -n "$port" ] && redis_is_ours "$port" "$pw"; then
    write_url "$url_file" "redis://stint_admin:$pw@127.0.0.1:$port" || return 1
    say "redis: the demo's redis-server is running on 127.0.0.1:$port (pid $(cat "$pidfile" 2>/dev/null))"
    return 0
  fi
  if redis_pid_alive "$pidfile"; then
    say "redis: redis-server $(cat "$pidfile") ($pidfile) is running but does not let the demo's stint_admin in;" \
      "stop it (kill $(cat "$pidfile")) and run again"
    return 1
  fi
  rm -f "$pidfile"
  if [ -z "$port" ] || port_in_use "$port"; then
    if [ -n "${STINT_DEMO_REDIS_PORT:-}" ]; then
      say "redis: STINT_DEMO_REDIS_PORT=$port is taken by another process"
      return 1
    fi
    port=
    for candidate in $(seq 6380 6399); do
      port_in_use "$candidate" || { port=$candidate && break; }
    done
    [ -n "$port" ] || { say "redis: ports 6380-6399 are all taken; set STINT_DEMO_REDIS_PORT" && return 1; }
  fi
  write_url "$url_file" "redis://stint_admin:$pw@127.0.0.1:$port" || return 1

  cat >"$conf" <<EOF
# The quick start's own Redis for the demo-redis target, written by scripts/demo-targets.sh at each start.
# Stop it with: kill \$(cat "$pidfile")
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile "$pidfile"
logfile "$dir/redis.log"
dir "$dir"
dbfilename dump.rdb
appendonly no
aclfile "$acl"
EOF
  # The default and admin users as scripts/demo-redis.acl has them (the admin's password as its SHA-256, which is
  # how Redis keeps it); the users Stint issued and saved stay.
  local hash
  hash=$(printf '%s' "$pw" | sha256sum | cut -d ' ' -f 1)
  {
    sed "s/>change-me/#$hash/" scripts/demo-redis.acl
    [ ! -f "$acl" ] || grep -v -e '^user default ' -e '^user stint_admin ' "$acl" || true
  } >"$acl.tmp" && mv "$acl.tmp" "$acl" || return 1
  if [ ! -s "$dir/dump.rdb" ] && ! seed_redis "$dir"; then
    say "redis: could not write the demo data (see $dir/seed.log)"
    return 1
  fi
  redis-server "$conf" || {
    say "redis: redis-server did not start (see $dir/redis.log)"
    return 1
  }
  for _ in $(seq 100); do
    if redis_is_ours "$port" "$pw"; then
      say "redis: started the demo's redis-server on 127.0.0.1:$port (pid $(cat "$pidfile" 2>/dev/null))"
      return 0
    fi
    sleep 0.1
  done
  say "redis: redis-server did not answer on 127.0.0.1:$port (see $dir/redis.log)"
  return 1
}

failed=0
for name in "${wanted[@]}"; do
  "prepare_$name" || failed=1
done
exit "$failed"
