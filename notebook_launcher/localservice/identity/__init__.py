"""Who may call the local service, split by role.

- `provisioning`: the service's own identity (tenancy, user, API key, OCI config), made once
  per data dir;
- `session_tokens`: resource-principal sessions it issues to functions and job runs;
- `signatures`: checking that a request is signed by one of them (used by the middleware).
"""
