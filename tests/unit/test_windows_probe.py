"""The Windows probe's answer, read back: the exact lines PowerShell 5.1 prints for the probe
script (executors/winrm/helpers.py PROBE_BODY) on real machines, through WinRM (CRLF line ends),
and what the dashboard makes of them (core/metrics.py).

The shapes follow the documented outputs: Win32_OperatingSystem's TotalVisibleMemorySize and
FreePhysicalMemory are in KiB, Win32_LogicalDisk's Size/FreeSpace in bytes (the script turns both
into MiB); ``nvidia-smi --format=csv,noheader,nounits`` prints ``97, 19823, 24564`` rows and
``[N/A]``/``[Not Supported]`` where a GPU has no reading; Win32_Processor.LoadPercentage is blank
on some machines. Numbers reach us through PowerShell string expansion ("$(...)"), which formats
with the invariant culture, so a German or French node still prints ``1.5``, never ``1,5``
(PowerShell issue #14278) — the parser needs no decimal-comma rule, and a test below pins that
a comma value is not misread as a number. The script itself runs on the Windows CI job
(test_the_real_probe_script_on_windows)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labdeck.core.metrics import sample_from_probe
from labdeck.executors.winrm.helpers import PROBE_BODY, parse_probe, probe_script

CRLF = "\r\n"

TWO_GPUS = CRLF.join([
    "os=Microsoft Windows 11 Pro",
    "os_release=10.0.22631",
    "arch=AMD64",
    "hostname=LAB-PC-07",
    "userprofile=C:\\Users\\lab",
    "cpus=32",
    "powershell=5",
    "memory_mb=130811",
    "memory_free_mb=98108",
    "disk_total_mb=1907592",
    "disk_free_mb=476898",
    "gpus=2",
    "gpu_names=NVIDIA GeForce RTX 4090; NVIDIA RTX A6000",
    "gpu_list=0|NVIDIA GeForce RTX 4090|24564;1|NVIDIA RTX A6000|49140",
    "gpu_util=97;3",
    "gpu_mem=81;0",
    "uptime_s=356521",
    "cpu_pct=43",
]) + CRLF


def test_a_two_gpu_workstation_reads_as_percentages():
    info = parse_probe(TWO_GPUS)
    assert info["os"] == "Microsoft Windows 11 Pro" and info["os_family"] == "windows"
    assert info["cpus"] == 32 and info["powershell"] == 5 and info["uptime_s"] == 356521
    assert info["gpu_list"] == [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "memory_mb": 24564},
                                {"index": 1, "name": "NVIDIA RTX A6000", "memory_mb": 49140}]
    sample = sample_from_probe(info, 10.0)
    assert sample.cpu == 43.0
    assert sample.memory == 25.0          # 98108 of 130811 MiB free
    assert sample.disk == 75.0            # 476898 of 1907592 MiB free
    assert sample.gpus == (97.0, 3.0)


def test_a_node_without_nvidia_and_a_german_caption():
    text = CRLF.join(["os=Microsoft Windows 10 Pro für Workstations", "os_release=10.0.19045", "cpus=8",
                      "powershell=5", "memory_mb=16297", "memory_free_mb=16297", "disk_total_mb=243582",
                      "disk_free_mb=0", "gpus=0", "uptime_s=59", "cpu_pct=0"]) + CRLF
    info = parse_probe(text)
    assert info["os"] == "Microsoft Windows 10 Pro für Workstations"
    sample = sample_from_probe(info, 0.0)
    assert (sample.cpu, sample.memory, sample.disk, sample.gpus) == (0.0, 0.0, 100.0, ())


def test_a_machine_whose_load_percentage_is_blank_has_no_cpu_reading_rather_than_an_idle_zero():
    """Win32_Processor.LoadPercentage is empty on some VMs and laptops; the script then tries the
    processor-time counter and, failing that, prints no cpu_pct line. The old script printed
    ``cpu_pct=0`` ([int]$null), which the dashboard drew as an idle machine."""
    assert "[int](Get-CimInstance Win32_Processor" not in PROBE_BODY
    assert 'if ($null -ne $load) { "cpu_pct=' in PROBE_BODY
    assert "Win32_PerfFormattedData_PerfOS_Processor" in PROBE_BODY
    info = parse_probe(CRLF.join(["cpus=4", "memory_mb=8000", "memory_free_mb=2000"]) + CRLF)
    sample = sample_from_probe(info, 0.0)
    assert sample.cpu is None and sample.memory == 75.0


def test_one_gpu_is_a_number_and_a_gpu_without_a_reading_is_left_out():
    """One GPU: the value parses as an int; a row whose utilization.gpu is ``[N/A]`` is dropped by
    the script, so only readable GPUs reach the chart."""
    one = parse_probe("gpus=1\r\ngpu_list=0|NVIDIA GeForce RTX 3060|12288\r\ngpu_util=55\r\n")
    assert sample_from_probe(one, 0.0).gpus == (55.0,)
    assert "$_[0] -match '^\\d+$'" in PROBE_BODY      # the filter that drops [N/A] rows
    blank = parse_probe("gpus=1\r\ngpu_list=0|Tesla K80|[N/A]\r\n")
    assert blank["gpu_list"] == [{"index": 0, "name": "Tesla K80", "memory_mb": None}]


def test_a_leading_byte_order_mark_does_not_hide_the_first_line():
    """A node whose console could not be switched to BOM-less UTF-8 may start its output with
    U+FEFF; the first key must still be ``os``."""
    info = parse_probe("\ufeffos=Microsoft Windows Server 2022 Standard\r\ncpus=4\r\n")
    assert info["os"] == "Microsoft Windows Server 2022 Standard"


def test_a_decimal_comma_is_never_taken_for_a_number():
    """PowerShell string expansion is culture-invariant, so a comma can only come from something
    else; it must then read as 'no reading', never as 15 or 1.5 by guesswork."""
    sample = sample_from_probe(parse_probe("cpu_pct=1,5\r\nmemory_mb=16000\r\nmemory_free_mb=8000,5\r\n"), 0.0)
    assert sample.cpu is None and sample.memory is None


def test_the_probe_finds_nvidia_smi_outside_path():
    """Drivers before the DCH ones install nvidia-smi under Program Files\\NVIDIA Corporation\\NVSMI,
    which is not on PATH: the probe looks there too, so those GPUs are not reported as 'gpus=0'."""
    assert "NVIDIA Corporation\\NVSMI\\nvidia-smi.exe" in PROBE_BODY


@pytest.mark.skipif(sys.platform != "win32", reason="needs real Windows PowerShell 5.1 and CIM")
def test_the_real_probe_script_on_windows(tmp_path):
    script = tmp_path / "probe.ps1"
    script.write_text(probe_script(), encoding="utf-8-sig")
    out = subprocess.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                          "-File", str(script)], capture_output=True, timeout=120)
    info = parse_probe(out.stdout.decode("utf-8", "replace"))
    sample = sample_from_probe(info, 0.0)
    assert info["cpus"] >= 1 and info["uptime_s"] > 0
    assert 0 < sample.memory < 100 and 0 < sample.disk <= 100
    assert sample.cpu is None or 0 <= sample.cpu <= 100
