"""Protocol defaults shared across apps."""

# fleet-protocol §6.1: the default global (and new-team) agent options.
DEFAULT_AGENT_OPTIONS: dict = {
    "config": {
        "options": {
            "pack_delimiter": "/",
            "logger_tls_period": 10,
            "distributed_plugin": "tls",
            "disable_distributed": False,
            "logger_tls_endpoint": "/api/osquery/log",
            "distributed_interval": 10,
            "distributed_tls_max_attempts": 3,
        },
        "decorators": {
            "load": [
                "SELECT uuid AS host_uuid FROM system_info;",
                "SELECT hostname AS hostname FROM system_info;",
            ]
        },
    },
    "overrides": {},
}

DEFAULT_FEATURES: dict = {"enable_host_users": True, "enable_software_inventory": True}
