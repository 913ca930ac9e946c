"""Stable, reproducible identities for simulated hosts.

Each host gets its own ``random.Random`` seeded from (seed, index, platform) so identity ``i`` does not
depend on how many hosts are simulated, and the same ``--seed`` always yields the same fleet.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass

PLATFORMS = ("linux", "darwin", "windows")
PLATFORM_CHOICES = (*PLATFORMS, "mixed")

# osquery's platform_type/platform_mask values as sent by real agents.
PLATFORM_TYPE = {"linux": "9", "darwin": "21", "windows": "2"}

_LINUX_HW = (
    ("Dell Inc.", "PowerEdge R640", "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"),
    ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "AMD EPYC 7B13"),
    ("Amazon EC2", "t3.large", "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"),
    ("LENOVO", "20XW0026US", "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"),
)
_DARWIN_HW = (
    ("Apple Inc.", "MacBookPro18,3", "Apple M1 Pro", "arm64"),
    ("Apple Inc.", "Mac14,2", "Apple M2", "arm64"),
    ("Apple Inc.", "MacBookAir10,1", "Apple M1", "arm64"),
    ("Apple Inc.", "MacBookPro16,1", "Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz", "x86_64"),
)
_WINDOWS_HW = (
    ("LENOVO", "20XW0026US", "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"),
    ("Dell Inc.", "Latitude 7420", "11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz"),
    ("HP", "HP EliteBook 840 G8", "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"),
    ("Microsoft Corporation", "Surface Laptop 5", "12th Gen Intel(R) Core(TM) i7-1265U"),
)
_FIRST = ("alex", "sam", "maria", "li", "noah", "emma", "omar", "yuki", "lena", "ravi", "zoe", "ivan")
_LAST = ("smith", "garcia", "chen", "mueller", "ito", "kowalski", "okafor", "silva", "novak", "patel")


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """Everything about a simulated machine that never changes while it runs."""

    index: int
    platform: str  # linux | darwin | windows
    flavor: str  # ubuntu | debian | rhel | darwin | windows
    hardware_uuid: str
    hardware_serial: str
    hostname: str
    computer_name: str
    hardware_vendor: str
    hardware_model: str
    cpu_brand: str
    arch: str  # x86_64 | arm64
    cpu_physical_cores: int
    cpu_logical_cores: int
    physical_memory: int
    mac: str
    ip: str
    username: str
    device_auth_token: str
    seed: int  # per-host seed for software choice, timing jitter, ...

    @property
    def platform_type(self) -> str:
        return PLATFORM_TYPE[self.platform]


def platform_for_index(platform: str, index: int) -> str:
    """Resolve ``mixed`` to a concrete platform: 50% linux, 30% darwin, 20% windows (exact per 10 hosts)."""
    if platform != "mixed":
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORM_CHOICES}")
        return platform
    slot = index % 10
    return "linux" if slot < 5 else "darwin" if slot < 8 else "windows"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _serial(rng: random.Random, platform: str) -> str:
    alphabet = string.ascii_uppercase + string.digits
    body = "".join(rng.choice(alphabet) for _ in range(9))
    return ("C02" + body) if platform == "darwin" else ("PF" + body[:8])


def make_identity(index: int, platform: str = "linux", seed: int = 0) -> HostIdentity:
    """Build identity ``index`` of a fleet; the same (index, platform, seed) always gives the same host."""
    plat = platform_for_index(platform, index)
    rng = random.Random(f"agentsim:{seed}:{index}:{plat}")
    if plat == "linux":
        flavor = rng.choices(("ubuntu", "rhel", "debian"), weights=(6, 2, 2))[0]
        vendor, model, cpu = rng.choice(_LINUX_HW)
        arch = "x86_64"
    elif plat == "darwin":
        flavor = "darwin"
        vendor, model, cpu, arch = rng.choice(_DARWIN_HW)
    else:
        flavor = "windows"
        vendor, model, cpu = rng.choice(_WINDOWS_HW)
        arch = "x86_64"
    cores = rng.choice((2, 4, 8, 10, 16))
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    hostname = f"sim-{plat}-{index:05d}"
    if plat == "darwin":
        computer_name = f"{first.capitalize()}'s MacBook"
    elif plat == "windows":
        computer_name = hostname.upper()
    else:
        computer_name = hostname
    mac = "02:" + ":".join(f"{rng.getrandbits(8):02x}" for _ in range(5))
    n = index + 1
    ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    return HostIdentity(
        index=index,
        platform=plat,
        flavor=flavor,
        hardware_uuid=_uuid(rng).upper(),
        hardware_serial=_serial(rng, plat),
        hostname=hostname,
        computer_name=computer_name,
        hardware_vendor=vendor,
        hardware_model=model,
        cpu_brand=cpu,
        arch=arch,
        cpu_physical_cores=cores,
        cpu_logical_cores=cores * (1 if arch == "arm64" else 2),
        physical_memory=rng.choice((8, 16, 32, 64)) * 1024**3,
        mac=mac,
        ip=ip,
        username=f"{first}.{last}" if plat != "windows" else f"{first}{last[0]}",
        device_auth_token=_uuid(rng),
        seed=rng.getrandbits(63),
    )


def make_identities(count: int, platform: str = "linux", seed: int | None = None) -> list[HostIdentity]:
    """Build ``count`` identities; without a seed a random one is drawn so runs differ."""
    if seed is None:
        seed = random.SystemRandom().getrandbits(48)
    return [make_identity(i, platform, seed) for i in range(count)]
