#!/usr/bin/env bash
# Turn on the row-based binlog the binlog source needs on the local MariaDB/MySQL, and create the
# least-privilege user 'kbgraph'@'%' (password 'kbgraph') the adapter tests may use.
# Idempotent: when the server already has the settings it only (re)applies the user grants (< 1 s).
# Needs root (writes /etc/mysql, may restart mariadbd). Environment:
#   KBGRAPH_MYSQL_ADMIN   client command as the server's admin (default: mariadb -uroot, over the local socket)
#   KBGRAPH_MYSQL_WAIT    seconds to wait for the server to answer after a restart (default 60)
set -euo pipefail

CONF_DIR=/etc/mysql/mariadb.conf.d
CONF_FILE=$CONF_DIR/60-kbgraph-binlog.cnf
MY_CNF=/etc/mysql/my.cnf
WAIT=${KBGRAPH_MYSQL_WAIT:-60}
MARIADBD=/usr/sbin/mariadbd
read -r -a ADMIN <<<"${KBGRAPH_MYSQL_ADMIN:-mariadb -uroot}"
WANT="log_bin=ON binlog_format=ROW binlog_row_image=FULL binlog_row_metadata=FULL"

say() { echo "[mariadb-binlog] $*"; }
die() { echo "[mariadb-binlog] error: $*" >&2; exit 1; }

if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null && exec sudo -n -- "$0" "$@"
    die "run as root (it writes $CONF_FILE and may restart mariadbd)"
fi
[[ -x $MARIADBD ]] || die "MariaDB server ($MARIADBD) is not installed"
command -v start-stop-daemon >/dev/null || die "start-stop-daemon not found (Debian package dpkg)"
command -v "${ADMIN[0]}" >/dev/null || die "client '${ADMIN[0]}' not found"

sql() { "${ADMIN[@]}" --batch --skip-column-names -e "$1" </dev/null; }
answers() { sql "SELECT 1" >/dev/null 2>&1; }

current() {  # the four settings as the running server has them, "name=VALUE ..."
    sql "SELECT GROUP_CONCAT(CONCAT(LOWER(VARIABLE_NAME), '=', UPPER(VARIABLE_VALUE))
         ORDER BY FIELD(LOWER(VARIABLE_NAME), 'log_bin','binlog_format','binlog_row_image','binlog_row_metadata')
         SEPARATOR ' ')
         FROM information_schema.GLOBAL_VARIABLES
         WHERE VARIABLE_NAME IN ('LOG_BIN','BINLOG_FORMAT','BINLOG_ROW_IMAGE','BINLOG_ROW_METADATA')"
}

wait_until_answers() {
    local i
    for ((i = 0; i < WAIT * 4; i++)); do
        answers && return 0
        sleep 0.25
    done
    tail -n 20 /var/log/mysql/error.log 2>/dev/null >&2 || true
    die "MariaDB did not answer within ${WAIT}s after starting it (see the server's error log above)"
}

# 1. the config file (rewritten only when it differs)
conf="# written by kbgraph .ci/mariadb-binlog.sh: the row-based binlog kbgraph's binlog source reads
[mysqld]
server_id = 1
log_bin = mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL"
mkdir -p "$CONF_DIR"
if [[ ! -f $CONF_FILE || "$(cat "$CONF_FILE")" != "$conf" ]]; then
    printf '%s\n' "$conf" >"$CONF_FILE"
    say "wrote $CONF_FILE"
fi
# a trimmed my.cnf may not read the folder: include it (once)
if [[ -f $MY_CNF ]] && ! grep -Eq "^[[:space:]]*!includedir[[:space:]]+$CONF_DIR/?[[:space:]]*$" "$MY_CNF"; then
    printf '\n!includedir %s/\n' "$CONF_DIR" >>"$MY_CNF"
    say "added !includedir $CONF_DIR/ to $MY_CNF"
fi

# 2. apply the settings: the row format ones at runtime when the binlog is already on; a restart
#    when it is off (or when the server is down: start it)
# this server only: other mariadbd processes (tests' own servers) run the same binary
PIDFILE=$("$MARIADBD" --print-defaults 2>/dev/null | tr ' ' '\n' | sed -n 's/^--pid-file=//p' | tail -n 1)
PIDFILE=${PIDFILE:-/run/mysqld/mysqld.pid}
mariadbd_running() { start-stop-daemon --status --pidfile "$PIDFILE" --exec "$MARIADBD" >/dev/null 2>&1; }
START=0
if answers; then
    have=$(current)
    if [[ $have != "$WANT" && $have == log_bin=ON* ]]; then
        say "server has: $have; setting the row format at runtime"
        sql "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL';
             SET GLOBAL binlog_row_metadata = 'FULL'" || true
        have=$(current)
    fi
    if [[ $have != "$WANT" ]]; then
        say "server has: $have; restarting it to get: $WANT"
        "${ADMIN[0]}-admin" "${ADMIN[@]:1}" shutdown </dev/null 2>/dev/null || sql "SHUTDOWN" || true
        for ((i = 0; i < WAIT * 4; i++)); do
            mariadbd_running || answers || break
            sleep 0.25
        done
        mariadbd_running && die "MariaDB did not shut down within ${WAIT}s"
        START=1
    fi
else
    say "server does not answer; starting it"
    START=1
fi
if [[ ${START:-0} == 1 ]]; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --pidfile "$PIDFILE" --exec "$MARIADBD"
    wait_until_answers
    have=$(current)
    [[ $have == "$WANT" ]] || die "after a restart the server still has: $have (want: $WANT); check $CONF_FILE is read (mariadbd --print-defaults)"
    say "binlog on: $have"
fi

# 3. the adapter's least-privilege user: read the binlog and every table; own the test databases
sql "CREATE USER IF NOT EXISTS 'kbgraph'@'%' IDENTIFIED BY 'kbgraph';
     CREATE USER IF NOT EXISTS 'kbgraph'@'localhost' IDENTIFIED BY 'kbgraph';
     GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'kbgraph'@'%', 'kbgraph'@'localhost';
     GRANT ALL PRIVILEGES ON \`kbt\\_%\`.* TO 'kbgraph'@'%', 'kbgraph'@'localhost';" \
    || die "could not create the user 'kbgraph'"
say "ok: $WANT; user 'kbgraph' ready"
