"""The command-line tool's commands: invoke the function, follow and manage its job runs.

Against the local service by default, against OCI with `--profile`/`--region`
(`target.py` decides which); the function is called in-process through its core
(`handler.invoke`) or, deployed, through the oci SDK's Functions invoke (`function_call.py`).
"""
