"""The Airflow edge: configuration, sensors, triggers and alerts of the nightly DAG."""
