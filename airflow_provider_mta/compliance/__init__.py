"""Airflow-side compliance helpers: the shared opt-out table and the suppression sources of a send."""
