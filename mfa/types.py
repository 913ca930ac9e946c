"""Activity types of the second factor (Fleet has none for TOTP: ours, in Fleet's naming style)."""

ENABLED_MFA = "enabled_mfa"
DISABLED_MFA = "disabled_mfa"
REGENERATED_RECOVERY_CODES = "regenerated_mfa_recovery_codes"
EDITED_MFA_SETTINGS = "edited_mfa_settings"
ENDED_SESSIONS = "ended_user_sessions"
ADDED_PASSKEY = "added_mfa_passkey"
DELETED_PASSKEY = "deleted_mfa_passkey"
