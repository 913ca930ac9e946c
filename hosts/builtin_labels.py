"""Fleet's built-in labels (fleet-protocol §4.6): every host is in "All Hosts", the rest by platform."""

BUILTIN_LABELS = (
    ("All Hosts", "All hosts which have enrolled in Fleet", "SELECT 1;", ""),
    ("macOS", "All macOS hosts", "SELECT 1 FROM os_version WHERE platform = 'darwin';", "darwin"),
    ("MS Windows", "All Windows hosts", "SELECT 1 FROM os_version WHERE platform = 'windows';", "windows"),
    ("All Linux", "All Linux distributions", "SELECT 1 FROM osquery_info WHERE build_platform = 'linux';", ""),
    ("Ubuntu Linux", "All Ubuntu hosts", "SELECT 1 FROM os_version WHERE platform = 'ubuntu';", "ubuntu"),
    (
        "CentOS Linux",
        "All CentOS hosts",
        "SELECT 1 FROM os_version WHERE platform = 'centos' OR name LIKE '%CentOS%';",
        "centos",
    ),
    (
        "Red Hat Linux",
        "All Red Hat Enterprise Linux hosts",
        "SELECT 1 FROM os_version WHERE name LIKE '%Red Hat%';",
        "rhel",
    ),
    ("chrome", "All Chrome hosts", "SELECT 1 FROM os_version WHERE platform = 'chrome';", "chrome"),
)
