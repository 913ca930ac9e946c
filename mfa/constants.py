"""Fixed strings and sizes of the second factor."""

# Fleet's loginMfaResponse status; our message names the authenticator instead of an e-mail.
MFA_REQUIRED_STATUS = 202
MFA_REQUIRED_MESSAGE = "Enter the code from your authenticator app, or a recovery code, to finish signing in."
# Fleet's answer to a client that did not say it can do a second step (mfaNotSupportedForClient).
CLIENT_CANNOT_MFA = (
    "Your login client does not support MFA. Please log in via the web, then use an API token to authenticate."
)
ENROL_REQUIRED = (
    "This organization requires a second factor for password logins: log in to the web UI to set up an authenticator."
)
METHODS = ["totp", "recovery_code"]

RECOVERY_CODE_COUNT = 10
# 10 base32 characters (50 bits) each, shown as two groups of five.
RECOVERY_CODE_BYTES = 7
TOTP_DIGITS = 6

PURPOSE_API = "api"
PURPOSE_UI = "ui"
PURPOSE_ENROL = "enrol"

# The UI keeps the pending second step's key here, in the (not yet logged-in) Django session.
SESSION_CHALLENGE = "mfa_challenge"
SESSION_NEXT = "mfa_next"
# The method of the login that made a session, for the session list (read by mfa.sessions).
SESSION_METHOD = "mfa_login_method"
