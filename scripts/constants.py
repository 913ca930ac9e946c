"""Fleet's script limits and user-facing messages (server/fleet/scripts.go, errors.go)."""

SAVED_SCRIPT_MAX_CHARS = 500_000
UNSAVED_SCRIPT_MAX_CHARS = 10_000
# fleetd stops a script after this many seconds unless agent options say otherwise.
DEFAULT_HOST_EXECUTION_TIMEOUT = 300
# A host may have at most this many scripts queued (Fleet's maxPendingScripts).
MAX_PENDING_SCRIPTS = 1000
# fleetd sends at most the last 10,000 characters of output; keep that much from anyone.
MAX_OUTPUT_CHARS = 10_000
# Hosts one batch run may target.
MAX_BATCH_HOSTS = 5000
# Exit codes fleetd reports when a script did not run normally.
EXIT_TIMEOUT = -1
EXIT_SCRIPTS_DISABLED = -2

SCRIPT_EXTENSIONS = (".sh", ".ps1", ".py")

HOST_OFFLINE = "Script can't run on offline host."
ALREADY_RUNNING = "A script is already running on this host. Please wait about 5 minutes to let it finish."
HOST_TIMEOUT = (
    "Fleet didn't hear back from the host in under 5 minutes (timeout for live scripts). Fleet doesn't know if "
    "the script ran because it didn't receive the result. Go to Fleet and check Host details > Activities to "
    "see script results."
)
DISABLED_GLOBALLY = "Running scripts is disabled in organization settings."
DISABLED_ON_HOST = "Scripts are disabled for this host. To run scripts, deploy the fleetd agent with scripts enabled."
ORBIT_DISABLED = "Couldn't run script. To run a script, deploy the fleetd agent with --enable-scripts."
ENQUEUED = "Script is running or will run when the host comes online."
SAVED_TOO_LARGE = "Script is too large. It's limited to 500,000 characters (approximately 10,000 lines)."
UNSAVED_TOO_LARGE = "Script is too large. It's limited to 10,000 characters (approximately 125 lines)."
NOT_TEXT = "Wrong data format. Only plain text allowed."
EMPTY = "Script contents must not be empty."
BAD_INTERPRETER = (
    'Interpreter not supported. Supported interpreters are "#!/bin/sh", "#!/bin/bash", "#!/bin/zsh", '
    '"#!/usr/bin/env python3", or an absolute path to "python" / "python3".'
)
BAD_EXTENSION = "File type not supported. Only .sh, .py, and .ps1 file types are allowed."
EMPTY_NAME = "The file name must not be empty."
SHELL_SHEBANG = (
    'Shell scripts must use a shell shebang (for example, "#!/bin/sh") or no shebang. For Python, use a ".py" script.'
)
PYTHON_SHEBANG = 'Python scripts must start with a python shebang (for example, "#!/usr/bin/env python3").'
POWERSHELL_SHEBANG = 'PowerShell scripts must not start with a shebang ("#!").'
NAME_TAKEN = "A script with this name already exists."
WRONG_TEAM = "The script does not belong to the same team (or no team) as the host."
ALREADY_QUEUED = "The script is already queued on the given host."
NO_SUCH_SCRIPT = 'No script exists for the provided "script_id".'
WRONG_PLATFORM = "The script can't run on this host's platform."


def timeout_message(seconds: int | None) -> str:
    """fleetd's exit code -1: the script ran past its timeout."""
    seconds = seconds or DEFAULT_HOST_EXECUTION_TIMEOUT
    return f"Timeout. Fleet stopped the script after {seconds} seconds to protect host performance."
