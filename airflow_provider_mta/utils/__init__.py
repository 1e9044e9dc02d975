"""Airflow-side helpers the operators share: checkpoint store, SQL rows, message template rendering."""
