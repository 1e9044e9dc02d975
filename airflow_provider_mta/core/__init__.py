"""Pure-Python core of the MTA provider: wire models, errors, HTTP client, pacing, parts/credits.

Nothing in this package imports Airflow. Heavy optional libraries (phonenumbers, liquid) are
imported inside the functions that need them so that importing the package stays cheap.
"""
