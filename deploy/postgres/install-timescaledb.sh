#!/usr/bin/env bash
# Build and install TimescaleDB (Apache-2 part) for the local PostgreSQL cluster on Debian 12.
#
# Debian 12 ships no TimescaleDB package; Debian 13 ("trixie") ships the source package, which
# builds against PostgreSQL 15 in well under a minute. The script is idempotent: when the
# extension is already available and preloaded it only checks and exits.
#
# Environment:
#   PG_VERSION   PostgreSQL major version (default: the newest in /usr/lib/postgresql)
#   PG_CLUSTER   cluster name (default: main)
#   BUILD_DIR    where the source is unpacked (default: /var/tmp/oms-timescaledb-build)
set -euo pipefail

log() { printf '[install-timescaledb] %s\n' "$*" >&2; }

PG_VERSION=${PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)}
PG_CLUSTER=${PG_CLUSTER:-main}
BUILD_DIR=${BUILD_DIR:-/var/tmp/oms-timescaledb-build}
PG_CONFIG=/usr/lib/postgresql/${PG_VERSION}/bin/pg_config
CONF_DIR=/etc/postgresql/${PG_VERSION}/${PG_CLUSTER}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ -z "$PG_VERSION" ] || [ ! -d "$CONF_DIR" ]; then
  log "no PostgreSQL cluster found under /etc/postgresql (PG_VERSION=${PG_VERSION:-?}); nothing to do"
  exit 1
fi

psql_q() { psql -h 127.0.0.1 -U postgres -d postgres -XAtqc "$1"; }

extension_installed() {
  [ -f "/usr/share/postgresql/${PG_VERSION}/extension/timescaledb.control" ]
}

preloaded() {
  [ "$(psql_q 'SHOW shared_preload_libraries' 2>/dev/null || true)" != "" ] &&
    psql_q 'SHOW shared_preload_libraries' | grep -q timescaledb
}

build_and_install() {
  log "installing build dependencies"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || log "apt-get update failed; trying with the cached lists"
  $SUDO apt-get install -y -qq "postgresql-server-dev-${PG_VERSION}" libssl-dev libkrb5-dev cmake \
    dpkg-dev xz-utils >/dev/null

  # A private apt configuration that knows only trixie's sources: the machine's own lists
  # stay untouched.
  local apt_dir="${BUILD_DIR}/apt"
  mkdir -p "${apt_dir}/lists/partial" "${BUILD_DIR}/src"
  echo "deb-src http://deb.debian.org/debian trixie main" > "${apt_dir}/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=${apt_dir}/sources.list" -o "Dir::Etc::SourceParts=-"
                  -o "Dir::State::Lists=${apt_dir}/lists" -o "APT::Get::List-Cleanup=0")
  log "fetching the timescaledb source package from Debian trixie"
  $SUDO apt-get "${apt_opts[@]}" update -qq
  (cd "${BUILD_DIR}/src" && rm -rf ./timescaledb* &&
     apt-get "${apt_opts[@]}" source --download-only -qq timescaledb)
  local orig
  orig=$(ls "${BUILD_DIR}"/src/timescaledb_*.orig.tar.* | head -n 1)
  rm -rf "${BUILD_DIR}/tree" && mkdir -p "${BUILD_DIR}/tree"
  tar -xf "$orig" -C "${BUILD_DIR}/tree" --strip-components=1
  log "building $(basename "$orig") against PostgreSQL ${PG_VERSION}"
  (cd "${BUILD_DIR}/tree" &&
     ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DAPACHE_ONLY=ON -DWARNINGS_AS_ERRORS=OFF \
       -DLINTER=OFF -DSEND_TELEMETRY_DEFAULT=NO -DPG_CONFIG="$PG_CONFIG" >/dev/null &&
     make -C build -j"$(nproc)" >/dev/null &&
     $SUDO make -C build install >/dev/null)
}

enable_preload() {
  local conf="${CONF_DIR}/conf.d/50-timescaledb.conf"
  $SUDO mkdir -p "${CONF_DIR}/conf.d"
  printf "# written by deploy/postgres/install-timescaledb.sh\nshared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n" \
    | $SUDO tee "$conf" >/dev/null
  log "restarting PostgreSQL ${PG_VERSION}/${PG_CLUSTER} to preload timescaledb"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" restart
  for _ in $(seq 1 60); do
    psql_q 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "PostgreSQL did not come back after the restart"; return 1
}

if extension_installed; then
  log "timescaledb extension files present"
else
  build_and_install
fi
if preloaded; then
  log "timescaledb already in shared_preload_libraries"
else
  enable_preload
fi

# Prove it works: create the extension in a scratch database, make a hypertable, bucket it.
psql_q "DROP DATABASE IF EXISTS oms_tsdb_check" >/dev/null
psql_q "CREATE DATABASE oms_tsdb_check" >/dev/null
psql -h 127.0.0.1 -U postgres -d oms_tsdb_check -XAtq -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE t (time timestamptz NOT NULL, v double precision);
SELECT create_hypertable('t', 'time');
INSERT INTO t VALUES (now(), 1);
SELECT time_bucket('1 minute', time), count(*) FROM t GROUP BY 1;
SQL
version=$(psql -h 127.0.0.1 -U postgres -d oms_tsdb_check -XAtqc "SELECT extversion FROM pg_extension WHERE extname='timescaledb'")
psql_q "DROP DATABASE oms_tsdb_check" >/dev/null
log "TimescaleDB ${version} works on PostgreSQL ${PG_VERSION}"
