"""Checking agent options before they reach every host (fleet-protocol §6.1).

A typo in `config.options` would silently do nothing on the hosts, and a wrong type can stop
osquery from applying the whole config, so both are refused with a message that names the path,
the problem and, for unknown keys, the nearest known name.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import yaml

# osquery flags that may be set in `config.options`, with their types (osquery's `--help`,
# the subset Fleet's own validator knows).
BOOL, INT, STR = "boolean", "integer", "string"
OSQUERY_OPTIONS: dict[str, str] = {
    "audit_allow_config": BOOL, "audit_allow_fim_events": BOOL, "audit_allow_process_events": BOOL,
    "audit_allow_sockets": BOOL, "audit_allow_user_events": BOOL, "aws_access_key_id": STR,
    "aws_firehose_period": INT, "aws_firehose_stream": STR, "aws_kinesis_period": INT,
    "aws_kinesis_stream": STR, "aws_region": STR, "aws_secret_access_key": STR, "buffered_log_max": INT,
    "carver_block_size": INT, "carver_compression": BOOL, "carver_disable_function": BOOL,
    "carver_expiry": INT, "config_refresh": INT, "config_tls_refresh": INT, "config_accelerated_refresh": INT,
    "csv_delimiter": STR, "decorations_top_level": BOOL, "disable_audit": BOOL, "disable_caching": BOOL,
    "disable_carver": BOOL, "disable_decorators": BOOL, "disable_distributed": BOOL, "disable_events": BOOL,
    "disable_tables": STR, "distributed_interval": INT, "distributed_loginfo": BOOL, "distributed_plugin": STR,
    "distributed_tls_max_attempts": INT, "enable_bpf_events": BOOL, "enable_file_events": BOOL,
    "enable_ntfs_event_publisher": BOOL, "enable_powershell_events_subscriber": BOOL, "enable_tables": STR,
    "enable_windows_events_publisher": BOOL, "enable_windows_events_subscriber": BOOL, "es_fim_mute_path_literal": STR,
    "events_expiry": INT, "events_max": INT, "events_optimize": BOOL, "host_identifier": STR,
    "logger_event_type": BOOL, "logger_min_status": INT, "logger_min_stderr": INT, "logger_path": STR,
    "logger_plugin": STR, "logger_snapshot_event_type": BOOL, "logger_tls_compress": BOOL,
    "logger_tls_endpoint": STR, "logger_tls_max_lines": INT, "logger_tls_max_linesize": INT,
    "logger_tls_period": INT, "pack_delimiter": STR, "pack_refresh_interval": INT, "read_max": INT,
    "schedule_default_interval": INT, "schedule_epoch": INT, "schedule_lognames": BOOL,
    "schedule_max_drift": INT, "schedule_reload": INT, "schedule_splay_percent": INT, "schedule_timeout": INT,
    "table_delay": INT, "thrift_string_size": INT, "thrift_timeout": INT, "timeout": INT,
    "utc": BOOL, "verbose": BOOL, "watchdog_delay": INT, "watchdog_forced_shutdown_delay": INT,
    "watchdog_latency_limit": INT, "watchdog_level": INT, "watchdog_memory_limit": INT,
    "watchdog_utilization_limit": INT, "worker_threads": INT, "yara_delay": INT, "yara_malloc_trim": BOOL,
    "disable_watchdog": BOOL, "disable_logging": BOOL, "disable_database": BOOL, "logger_stderr": BOOL,
    "logger_mode": STR, "logger_rotate": BOOL, "logger_rotate_size": INT, "logger_rotate_max_files": INT,
    "force": BOOL, "ephemeral": BOOL, "tls_dump": BOOL, "enable_numeric_monitoring": BOOL,
    "numeric_monitoring_plugins": STR, "numeric_monitoring_pre_aggregation_time": INT,
    "enable_extensions_watchdog": BOOL, "extensions_interval": INT, "extensions_timeout": INT,
    "hash_cache_max": INT, "hash_delay": INT, "keep_container_worker_open": BOOL, "malloc_trim_threshold": INT,
    "mdm_plist_path": STR, "nullvalue": STR, "pidfile": STR, "tls_client_cert": STR, "tls_client_key": STR,
    "tls_enroll_max_attempts": INT, "tls_enroll_max_interval": INT, "tls_hostname": STR,
    "tls_server_certs": STR, "tls_session_reuse": BOOL, "tls_session_timeout": INT,
}  # fmt: skip
CONFIG_KEYS = {
    "options", "decorators", "packs", "schedule", "file_paths", "file_paths_query", "file_accesses",
    "exclude_paths", "yara", "prometheus_targets", "views", "events", "auto_table_construction", "feature_vectors",
}  # fmt: skip
TOP_LEVEL_KEYS = {
    "config", "overrides", "command_line_flags", "extensions", "update_channels", "script_execution_timeout",
    "channels",
}  # fmt: skip
PLATFORMS = {"darwin", "windows", "linux", "ubuntu", "centos", "rhel", "debian", "chrome", "amzn", "fedora"}


class AgentOptionsError(ValueError):
    """A readable problem with agent options: `path` says where, the message says what."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def parse(text: str) -> dict[str, Any]:
    """JSON or YAML text to a dict; syntax errors carry the line and column."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AgentOptionsError("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise AgentOptionsError("", f"invalid YAML{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AgentOptionsError("", f"agent options must be a mapping (an object), not {_type_name(data)}")
    return data


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "null" if value is None else type(value).__name__


PLATFORM_ALIASES = {"macos": "darwin", "mac": "darwin", "osx": "darwin", "win": "windows", "win32": "windows"}


def _unknown(path: str, key: str, known: set[str] | dict[str, str]) -> AgentOptionsError:
    close = [PLATFORM_ALIASES[key.lower()]] if key.lower() in PLATFORM_ALIASES and known is PLATFORMS else []
    close = close or difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return AgentOptionsError(path, f"unknown key {key!r}{hint}")


def _check_config(config: Any, path: str) -> None:
    if not isinstance(config, dict):
        raise AgentOptionsError(path, f"expected a mapping, got {_type_name(config)}")
    for key in config:
        if key not in CONFIG_KEYS:
            raise _unknown(path, key, CONFIG_KEYS)
    options = config.get("options", {})
    if not isinstance(options, dict):
        raise AgentOptionsError(f"{path}.options", f"expected a mapping, got {_type_name(options)}")
    for key, value in options.items():
        expected = OSQUERY_OPTIONS.get(key)
        if expected is None:
            raise _unknown(f"{path}.options", key, OSQUERY_OPTIONS)
        actual = _type_name(value)
        if actual != expected:
            raise AgentOptionsError(f"{path}.options.{key}", f"expected {expected}, got {actual} ({value!r})")
        if expected == INT and value < 0:
            raise AgentOptionsError(f"{path}.options.{key}", "must not be negative")
    if options.get("pack_delimiter", "/") != "/":
        raise AgentOptionsError(f"{path}.options.pack_delimiter", "must stay '/', or query reports break")
    decorators = config.get("decorators", {})
    if not isinstance(decorators, dict):
        raise AgentOptionsError(f"{path}.decorators", f"expected a mapping, got {_type_name(decorators)}")
    for key, value in decorators.items():
        if key not in ("load", "always", "interval"):
            raise _unknown(f"{path}.decorators", key, {"load", "always", "interval"})
        if key != "interval" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise AgentOptionsError(f"{path}.decorators.{key}", "expected a list of SQL strings")


def validate(options: Any) -> dict[str, Any]:
    """`options` if valid; else AgentOptionsError naming the first problem."""
    if not isinstance(options, dict):
        raise AgentOptionsError("", f"agent options must be a mapping (an object), not {_type_name(options)}")
    for key in options:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown("", key, TOP_LEVEL_KEYS)
    if "config" in options:
        _check_config(options["config"], "config")
    overrides = options.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise AgentOptionsError("overrides", f"expected a mapping, got {_type_name(overrides)}")
    for key in overrides:
        if key != "platforms":
            raise _unknown("overrides", key, {"platforms"})
    platforms = overrides.get("platforms") or {}
    if not isinstance(platforms, dict):
        raise AgentOptionsError("overrides.platforms", f"expected a mapping, got {_type_name(platforms)}")
    for platform, config in platforms.items():
        if platform not in PLATFORMS:
            raise _unknown("overrides.platforms", platform, PLATFORMS)
        _check_config(config, f"overrides.platforms.{platform}")
    flags = options.get("command_line_flags")
    if flags is not None and not isinstance(flags, dict):
        raise AgentOptionsError("command_line_flags", f"expected a mapping, got {_type_name(flags)}")
    timeout = options.get("script_execution_timeout")
    if timeout is not None and (_type_name(timeout) != INT or not 0 < timeout <= 3600):
        raise AgentOptionsError("script_execution_timeout", "expected an integer from 1 to 3600 (seconds)")
    return options


def to_yaml(options: dict[str, Any]) -> str:
    """Agent options as the YAML the editor shows."""
    return yaml.safe_dump(options or {}, sort_keys=False, default_flow_style=False)
