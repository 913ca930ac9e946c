"""Admin UI pages for accounts: sign-in and password flows, users, teams."""
