"""A downstream DAG scheduled on the Asset `recon_cases` (a letter dispatch, a finance
export): writes the business date of the latest cases event to RECON_CONSUMER_OUT."""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

CASES = Asset("recon_cases")


@dag(dag_id="recon_cases_consumer", schedule=[CASES], catchup=False, tags=["recon", "test"])
def recon_cases_consumer():
    @task(inlets=[CASES])
    def read_the_night(inlet_events=None) -> str:
        """Reads the latest `recon_cases` event; writes its extra to RECON_CONSUMER_OUT."""
        import json
        import os

        extra = dict(inlet_events[CASES][-1].extra)
        with open(os.environ["RECON_CONSUMER_OUT"], "w") as out:
            json.dump(extra, out)
        return extra["business_date"]

    read_the_night()


recon_cases_consumer()
