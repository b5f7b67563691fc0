-- Prepares this machine's PostgreSQL as the quick start's target. DEMO ONLY: the admin password below is public.
--
--   psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d postgres -f scripts/demo-target.sql
--
-- Run it as a superuser, connected to the database the demo's admin URL names (`postgres` by default:
-- postgres://stint_admin:stint-demo-only@127.0.0.1:5432/postgres). Safe to run again: every step checks or
-- converges. A stint_admin this script did not make (its comment says which) is never changed: the run stops. It creates
--   * stint_demo_admin, stint_demo_read: NOLOGIN team roles, the grants of the demo policy's admin and read roles;
--   * public.demo_accounts, a small table: all privileges for stint_demo_admin, SELECT for stint_demo_read;
--   * stint_admin: the login Stint uses, with the least privilege of docs/postgres-target.md.

\set ON_ERROR_STOP on

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stint_demo_admin') THEN
    CREATE ROLE stint_demo_admin NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stint_demo_read') THEN
    CREATE ROLE stint_demo_read NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stint_admin') THEN
    CREATE ROLE stint_admin;
    COMMENT ON ROLE stint_admin IS 'stint-demo: made by scripts/demo-target.sql';
  ELSIF coalesce(shobj_description((SELECT oid FROM pg_roles WHERE rolname = 'stint_admin'), 'pg_authid'), '')
        <> 'stint-demo: made by scripts/demo-target.sql' THEN
    -- Another deployment's admin (a real one, on a shared server): the demo's public password must never
    -- replace its own.
    RAISE EXCEPTION 'a stint_admin role exists that this script did not make: the demo leaves it alone. Point '
      'STINT_DEMO_DB_URL at another server, or drop that role yourself if it is a leftover.';
  END IF;
END
$$;

-- Whatever an earlier run or a hand edit left, the roles end in exactly this state.
ALTER ROLE stint_demo_admin WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE stint_demo_read WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE stint_admin WITH LOGIN CREATEROLE INHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS
  PASSWORD 'stint-demo-only';

-- PostgreSQL 16+ lets CREATEROLE grant only roles it holds ADMIN OPTION on. Admin only: no inheritance, no SET
-- ROLE, so stint_admin can hand the demo roles out but never reads the data itself. (On 15 CREATEROLE suffices.)
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 160000 THEN
    EXECUTE 'GRANT stint_demo_admin, stint_demo_read TO stint_admin WITH ADMIN TRUE, INHERIT FALSE, SET FALSE';
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS public.demo_accounts (
  id      integer PRIMARY KEY,
  owner   text NOT NULL,
  balance numeric(12, 2) NOT NULL
);
INSERT INTO public.demo_accounts (id, owner, balance) VALUES
  (1, 'alice', 1200.00),
  (2, 'bob', 310.50),
  (3, 'carol', 9875.25)
ON CONFLICT (id) DO NOTHING;

ALTER TABLE public.demo_accounts OWNER TO stint_demo_admin;
GRANT ALL ON public.demo_accounts TO stint_demo_admin;
GRANT SELECT ON public.demo_accounts TO stint_demo_read;
-- An elevated admin may create tables; revoke hands what it made to stint_demo_admin.
GRANT CREATE ON SCHEMA public TO stint_demo_admin;
