#!/bin/sh
# The recon case store beside Airflow's metadata database (runs once, on an empty volume).
# The connection recon_db (AIRFLOW_CONN_RECON_DB in compose.yaml) points here; its password
# comes from RECON_DB_PASSWORD (docker/.env), never from this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v recon_password="$RECON_DB_PASSWORD" <<'SQL'
CREATE ROLE recon LOGIN PASSWORD :'recon_password';
CREATE DATABASE recon OWNER recon;
SQL
