"""Fixed protocol strings and numbers for hosts (fleet-protocol §1.4, §5)."""

from datetime import UTC, datetime, timedelta

DETAIL_QUERY_PREFIX = "fleet_detail_query_"
ADDITIONAL_QUERY_PREFIX = "fleet_additional_query_"
LABEL_QUERY_PREFIX = "fleet_label_query_"
POLICY_QUERY_PREFIX = "fleet_policy_query_"
DISTRIBUTED_QUERY_PREFIX = "fleet_distributed_query_"

# A new host's *_updated_at, so its first distributed/read gets every query.
NEVER_UPDATED = datetime(1970, 1, 2, tzinfo=UTC)

# §5: online while seen within min(distributed_interval, config_tls_refresh) + 60 s.
ONLINE_INTERVAL_BUFFER = 60
MISSING_AFTER = timedelta(days=30)
NEW_FOR = timedelta(days=1)
# Fewer GB free than this is "low disk space" on the dashboard and in the hosts list (Fleet's UI uses 32).
LOW_DISK_GB = 32

# §1.4: sent while the host has not told us its hostname or platform.
ACCELERATE_SECONDS = 10

ALL_HOSTS_LABEL = "All Hosts"
