"""Data Science Pipelines (API 20190101): pipelines of ML_JOB steps, and runs that execute them.

models.py holds pipelines and runs; orchestrator.py advances runs, each step a real job run of
its job made through datascience's CreateJobRun (so the executor's concurrency bound, logs and
kill -9 recovery are the job runs')."""
