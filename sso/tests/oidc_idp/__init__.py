"""A real OpenID Connect provider for the SSO tests: django-oauth-toolkit in OIDC mode, its own tiny Django project.

It runs in a separate process (`serve.py`) on a loopback port with its own SQLite file, so the
tests meet a maintained provider's real discovery document, login form, authorize and token
endpoints, PKCE checks and RS256-signed ID tokens. `process.py` is the test side's handle on it.
"""
