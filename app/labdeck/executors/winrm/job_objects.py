"""A named Windows Job Object around a detached run's launcher, as PowerShell text.

Windows has no documented way to read another process's environment, so the run token cannot
be searched for there as on Linux. What Windows does give is the Job Object: a process created
by a member of a job is a member too, and stays one when its parent exits -- which is exactly
the process ``taskkill /T`` cannot find (it walks parent ids). The detached launcher creates the
job ``LabDeck-<run token>`` and puts itself in it before the first step, so everything a step
starts is in it; a kill opens the job by that name and ends every member (TerminateJobObject)
before the tree kill, then asks the job how many are still active.

What stays out: a process started through a service (WMI's Win32_Process.Create, the Task
Scheduler, Start-Process -Credential), which is the service's child, and one created with
CREATE_BREAKAWAY_FROM_JOB (the job does not allow it). The name lives while the launcher holds
its handle, that is while the run runs. Any failure here (Add-Type refused by a locked-down
PowerShell, an old Windows without nested jobs) leaves the run as it was without the job.
"""

from __future__ import annotations

JOB_MARK = "# labdeck-job"
JOB_PREFIX = "LabDeck-"
JOB_OBJECT_TERMINATE_QUERY = 0x000C  # JOB_OBJECT_TERMINATE | JOB_OBJECT_QUERY

_TYPE = r"""
if (-not ('LabdeckJob' -as [type])) { Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class LabdeckJob {
    [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    public static extern IntPtr CreateJobObject(IntPtr attributes, string name);
    [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    public static extern IntPtr OpenJobObject(uint access, bool inherit, string name);
    [DllImport("kernel32.dll", SetLastError = true)]
    public static extern bool AssignProcessToJobObject(IntPtr job, IntPtr process);
    [DllImport("kernel32.dll", SetLastError = true)]
    public static extern bool TerminateJobObject(IntPtr job, uint exitCode);
    [DllImport("kernel32.dll")]
    public static extern IntPtr GetCurrentProcess();
    [DllImport("kernel32.dll", SetLastError = true)]
    public static extern bool CloseHandle(IntPtr handle);
    [StructLayout(LayoutKind.Sequential)]
    public struct Accounting {
        public long TotalUserTime, TotalKernelTime, ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime;
        public uint TotalPageFaultCount, TotalProcesses, ActiveProcesses, TotalTerminatedProcesses;
    }
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool QueryInformationJobObject(IntPtr job, int infoClass, ref Accounting info, int length,
                                                 IntPtr returned);
    public static int Active(IntPtr job) {
        Accounting info = new Accounting();
        if (!QueryInformationJobObject(job, 1, ref info, Marshal.SizeOf(typeof(Accounting)), IntPtr.Zero)) {
            return -1;
        }
        return (int)info.ActiveProcesses;
    }
}
'@ }
""".strip()

# (The here-string's closing '@ must start its line: the type text is never indented.)
# In the launcher, after its environment lines (the run token is set by then); $labdeckJob keeps
# the handle, and with it the name, for the launcher's life.
LAUNCHER_JOB = JOB_MARK + "\n" + r"""
$labdeckJob = [IntPtr]::Zero
try {
""" + _TYPE + r"""
    if ($env:LABDECK_RUN_TOKEN) {
        $labdeckJob = [LabdeckJob]::CreateJobObject([IntPtr]::Zero, '""" + JOB_PREFIX + r"""' + $env:LABDECK_RUN_TOKEN)
        if ($labdeckJob -ne [IntPtr]::Zero) {
            [void][LabdeckJob]::AssignProcessToJobObject($labdeckJob, [LabdeckJob]::GetCurrentProcess())
        }
    }
} catch { }
"""

# In the kill helper, before taskkill: "JOB n" (members still active after the end, -1 unknown)
# when the job was found; nothing when it was not (the run had no job, or has ended).
KILL_JOB = r"""
if ($jobName) {
    try {
""" + _TYPE + r"""
        $job = [LabdeckJob]::OpenJobObject(""" + str(JOB_OBJECT_TERMINATE_QUERY) + r""", $false, $jobName)
        if ($job -ne [IntPtr]::Zero) {
            [void][LabdeckJob]::TerminateJobObject($job, 1)
            $until = (Get-Date).AddSeconds([double]$waitSeconds)
            while ([LabdeckJob]::Active($job) -gt 0 -and (Get-Date) -lt $until) { Start-Sleep -Milliseconds 100 }
            'JOB ' + [LabdeckJob]::Active($job)
            [void][LabdeckJob]::CloseHandle($job)
        }
    } catch { }
}
"""


def job_name(token: str) -> str:
    return JOB_PREFIX + token if token else ""
