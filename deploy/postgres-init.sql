-- Run once by the postgres image on a new data volume (docker-compose.yml), as the superuser.
-- The portal's own role: it logs in, owns its database, and is neither a superuser nor able to
-- create roles, so the audit trail's owner role (audit/protection.py) stays out of its reach.
CREATE ROLE portal LOGIN PASSWORD 'portal' NOSUPERUSER NOCREATEROLE NOCREATEDB;
ALTER DATABASE ecgportal OWNER TO portal;
