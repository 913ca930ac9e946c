"""Admin UI pages for hosts and the software inventory."""
