"""The local Logging and Logging Search services: log groups, logs and the job runs' output.

`models.py` is the backend (no HTTP), `responses.py` turns requests into backend calls,
`urls.py` is the one table of its operations and the `SERVICE` the app registers.
"""
