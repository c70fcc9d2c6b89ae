# Sourced by the mysql image's entry point on the first start (after kb.sql and kb-data.sql):
# the login kbgraph (snapshot, sync, publish) and Debezium read the binlog with.
# SELECT reads the rows, RELOAD takes MySQL's consistent snapshot (FLUSH TABLES WITH READ LOCK),
# REPLICATION SLAVE streams the binlog, REPLICATION CLIENT reads its position; Debezium also
# lists databases and locks tables during its own snapshot.
mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'kbgraph'@'%' IDENTIFIED BY '${KBGRAPH_MYSQL_PASSWORD}';
GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'kbgraph'@'%';
SQL
