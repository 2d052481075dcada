"""Data Science schedules (API 20190101): the Schedule resource and a scheduler that fires it.

`models.py` keeps schedules and performs their fires, `triggers.py` computes fire times,
`actions.py` is what a fire does (one entry per `httpActionType`), `scheduler.py` is the
thread that fires due schedules, `responses.py` and `urls.py` the HTTP face.
"""
