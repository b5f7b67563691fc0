-- Prepares a MariaDB (10.5+) as the quick start's demo target `demo-mariadb`. DEMO ONLY.
--
--   sed "s/'change-me'/'<password>'/" scripts/demo-mariadb.sql | sudo mariadb
--
-- `scripts/quickstart.sh --with mariadb` runs it for you (through scripts/demo-targets.sh) as the server's root
-- over its socket, with a random password it keeps in the key folder (<data dir>-keys/demo-mariadb.url): on a
-- MariaDB whose root logs in by socket only, an admin account with a published password would let every local
-- user make accounts, root's password included (docs/mariadb-target.md, "CREATE USER is powerful").
--
-- Safe to run again: every step checks or converges. It creates
--   * stint_demo, a small database with one table, accounts;
--   * stint_demo_read (SELECT) and stint_demo_admin (reads, writes and DDL on stint_demo only; no routines,
--     events or triggers, whose definer would outlive a revoke): the grants of the demo policy's roles;
--   * stint_admin: the account Stint uses, exactly as docs/mariadb-target.md sets it up, with the two demo roles.
--     `CREATE OR REPLACE` instead of the docs' `CREATE`, so whatever an earlier run or a hand edit left, it ends
--     with exactly the documented rights (test/app/demo-targets.test.ts checks the block against the docs).
-- It leaves the server's own settings alone, event_scheduler included: when it is OFF, Stint says so at start and
-- its own timers end each window (docs/mariadb-target.md, "The window's end on the target").

CREATE DATABASE IF NOT EXISTS stint_demo;
CREATE TABLE IF NOT EXISTS stint_demo.accounts (
  id      INT            NOT NULL PRIMARY KEY,
  owner   VARCHAR(40)    NOT NULL,
  balance DECIMAL(12, 2) NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO stint_demo.accounts (id, owner, balance) VALUES
  (1, 'alice', 1200.00),
  (2, 'bob', 310.50),
  (3, 'carol', 9875.25);

CREATE ROLE IF NOT EXISTS stint_demo_read;
CREATE ROLE IF NOT EXISTS stint_demo_admin;
-- A role is converged like the account below: its rights are exactly these after every run.
REVOKE ALL PRIVILEGES, GRANT OPTION FROM stint_demo_read, stint_demo_admin;
GRANT SELECT ON stint_demo.* TO stint_demo_read;
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON stint_demo.* TO stint_demo_admin;

-- stint-admin-setup: mariadb (demo)
CREATE OR REPLACE USER 'stint_admin'@'%' IDENTIFIED BY 'change-me';
GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO 'stint_admin'@'%';
GRANT SELECT (User, Host) ON mysql.user TO 'stint_admin'@'%';
CREATE DATABASE IF NOT EXISTS stint_meta;
CREATE TABLE IF NOT EXISTS stint_meta.principals (
  user        VARCHAR(32)  NOT NULL PRIMARY KEY,
  host        VARCHAR(255) NOT NULL,
  store_id    VARCHAR(64)  NOT NULL,
  deployment  VARCHAR(128) NOT NULL,
  request_id  VARCHAR(128) NOT NULL,
  expires_at  DATETIME     NOT NULL,
  created_at  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY by_store (store_id)
) ENGINE=InnoDB;
GRANT SELECT, INSERT, DELETE ON stint_meta.principals TO 'stint_admin'@'%';
GRANT EVENT ON stint_meta.* TO 'stint_admin'@'%';
GRANT stint_demo_admin TO 'stint_admin'@'%' WITH ADMIN OPTION;
GRANT stint_demo_read TO 'stint_admin'@'%' WITH ADMIN OPTION;
-- For the standing-access inventory only (`stint inventory`): who holds what, never a password hash.
GRANT SELECT (User, Host, is_role, Select_priv, Insert_priv, Update_priv, Delete_priv, Create_priv, Drop_priv,
  Reload_priv, Shutdown_priv, Process_priv, File_priv, Grant_priv, References_priv, Index_priv, Alter_priv,
  Show_db_priv, Super_priv, Create_tmp_table_priv, Lock_tables_priv, Execute_priv, Repl_slave_priv,
  Repl_client_priv, Create_view_priv, Show_view_priv, Create_routine_priv, Alter_routine_priv, Create_user_priv,
  Event_priv, Trigger_priv, Create_tablespace_priv, Delete_history_priv) ON mysql.user TO 'stint_admin'@'%';
GRANT SELECT ON mysql.roles_mapping TO 'stint_admin'@'%';
GRANT SELECT ON mysql.db TO 'stint_admin'@'%';
