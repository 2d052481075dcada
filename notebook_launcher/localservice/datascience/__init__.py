"""The local Data Science service: projects, jobs, job artifacts and job runs.

`models.py` is the backend (records in the store, no HTTP), `responses.py` turns requests into
backend calls, `urls.py` is the one table of its operations and the `SERVICE` the app registers.
"""
