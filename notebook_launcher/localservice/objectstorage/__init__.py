"""The local Object Storage: the calls job runs and the function need, objects kept as files.

`models.py` is the backend (no HTTP), `responses.py` turns requests into backend calls,
`urls.py` is the one table of its operations and the `SERVICE` the app registers.
"""
