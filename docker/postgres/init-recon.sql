-- The recon case store beside Airflow's metadata database (runs once, on an empty volume).
-- The connection recon_db (AIRFLOW_CONN_RECON_DB in compose.yaml) points here.
CREATE ROLE recon LOGIN PASSWORD 'recon';
CREATE DATABASE recon OWNER recon;
