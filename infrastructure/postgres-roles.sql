-- Passwords for the runtime roles (the first migration creates them without one if absent);
-- they match the DSNs in compose.yaml: change both together for anything but local use.
-- Runs once, when the PostgreSQL volume is first initialised.
CREATE ROLE caretrail_app LOGIN PASSWORD 'app' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE caretrail_relay LOGIN PASSWORD 'relay' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE caretrail_projector LOGIN PASSWORD 'projector' NOSUPERUSER NOBYPASSRLS;
