"""Admin UI pages that belong to no single app: dashboard, settings, enroll secrets, add hosts."""
