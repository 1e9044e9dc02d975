"""Airflow triggers (run in the triggerer)."""
