"""OCI's facts, written once for the function, the local service, the console and the operator kit.

Dependency-free (the standard library only), so the function image carries it whole and the
local service imports the same definitions it stands in for (fdk's `constants.py` is the
precedent at small scale):

- `states`: lifecycle states of jobs, job runs, pipeline runs, step runs and schedules, with
  their terminal and cancelable sets.
- `identifiers`: the OCID grammar.
- `limits`: tag and environment limits.
- `object_uri`: the `oci://bucket@namespace/path` grammar.
- `archive_paths`: what may be unpacked under a folder (a job artifact, a notebook's folder).
"""
