"""Windows Job Objects for local runs (ctypes on kernel32; Windows only).

Every process a local step starts on Windows runs inside one job: the step's cmd.exe is created
suspended, put into the job, and only then resumed, so even a child it starts at once is in the
job too. A ``start /b`` child whose parent has exited is still a member (a job does not walk
parent ids, which Windows reuses). Stopping the step ends the whole job with
TerminateJobObject, and the job's own process-id list tells whether anything is left. The job is
created with KILL_ON_JOB_CLOSE: if LabDeck itself goes away, Windows ends the step's processes.
No taskkill, so no console window flashes.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from ctypes import wintypes

JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_BASIC_PROCESS_ID_LIST = 3
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
TH32CS_SNAPTHREAD = 0x00000004
THREAD_SUSPEND_RESUME = 0x0002
ERROR_MORE_DATA = 234
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
CREATE_SUSPENDED = 0x00000004


class _BasicLimits(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD)]


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("ReadOperationCount", "WriteOperationCount",
                                                      "OtherOperationCount", "ReadTransferCount",
                                                      "WriteTransferCount", "OtherTransferCount")]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [("BasicLimitInformation", _BasicLimits), ("IoInfo", _IoCounters),
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]


class _ThreadEntry(ctypes.Structure):
    _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD), ("th32ThreadID", wintypes.DWORD),
                ("th32OwnerProcessID", wintypes.DWORD), ("tpBasePri", wintypes.LONG),
                ("tpDeltaPri", wintypes.LONG), ("dwFlags", wintypes.DWORD)]


def _process_id_list(capacity: int):
    class _ProcessIdList(ctypes.Structure):
        _fields_ = [("NumberOfAssignedProcesses", wintypes.DWORD), ("NumberOfProcessIdsInList", wintypes.DWORD),
                    ("ProcessIdList", ctypes.c_size_t * capacity)]
    return _ProcessIdList()


def _kernel32():
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.CreateJobObjectW.restype = wintypes.HANDLE
    k.CreateJobObjectW.argtypes = [wintypes.LPVOID, wintypes.LPCWSTR]
    k.SetInformationJobObject.restype = wintypes.BOOL
    k.SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD]
    k.QueryInformationJobObject.restype = wintypes.BOOL
    k.QueryInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD,
                                            ctypes.POINTER(wintypes.DWORD)]
    k.AssignProcessToJobObject.restype = wintypes.BOOL
    k.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
    k.TerminateJobObject.restype = wintypes.BOOL
    k.TerminateJobObject.argtypes = [wintypes.HANDLE, wintypes.UINT]
    k.CloseHandle.restype = wintypes.BOOL
    k.CloseHandle.argtypes = [wintypes.HANDLE]
    k.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
    k.CreateToolhelp32Snapshot.argtypes = [wintypes.DWORD, wintypes.DWORD]
    k.Thread32First.restype = wintypes.BOOL
    k.Thread32First.argtypes = [wintypes.HANDLE, ctypes.POINTER(_ThreadEntry)]
    k.Thread32Next.restype = wintypes.BOOL
    k.Thread32Next.argtypes = [wintypes.HANDLE, ctypes.POINTER(_ThreadEntry)]
    k.OpenThread.restype = wintypes.HANDLE
    k.OpenThread.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    k.ResumeThread.restype = wintypes.DWORD
    k.ResumeThread.argtypes = [wintypes.HANDLE]
    return k


def _check(ok, what: str):
    if not ok:
        raise ctypes.WinError(ctypes.get_last_error(), f"{what} failed")
    return ok


class JobObject:
    """One job with kill-on-close; ``start`` launches a process inside it."""

    def __init__(self):
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        self._k = _kernel32()
        self.handle = _check(self._k.CreateJobObjectW(None, None), "CreateJobObjectW")
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        _check(self._k.SetInformationJobObject(self.handle, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
                                               ctypes.byref(limits), ctypes.sizeof(limits)),
               "SetInformationJobObject")

    def start(self, args, **popen_kwargs) -> subprocess.Popen:
        """Popen with CREATE_SUSPENDED, assigned to the job, then resumed: nothing it starts can
        escape the job by being quick."""
        popen_kwargs["creationflags"] = popen_kwargs.get("creationflags", 0) | CREATE_SUSPENDED
        proc = subprocess.Popen(args, **popen_kwargs)
        try:
            _check(self._k.AssignProcessToJobObject(self.handle, int(proc._handle)), "AssignProcessToJobObject")
            self._resume(proc.pid)
        except OSError:
            proc.kill()
            proc.wait()
            raise
        return proc

    def _resume(self, pid: int) -> None:
        """Resume the suspended process's (only) thread; Popen closed its handle, so find it."""
        snapshot = self._k.CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0)
        if snapshot in (None, INVALID_HANDLE_VALUE):
            raise ctypes.WinError(ctypes.get_last_error(), "CreateToolhelp32Snapshot failed")
        resumed = 0
        try:
            entry = _ThreadEntry()
            entry.dwSize = ctypes.sizeof(_ThreadEntry)
            more = self._k.Thread32First(snapshot, ctypes.byref(entry))
            while more:
                if entry.th32OwnerProcessID == pid:
                    thread = _check(self._k.OpenThread(THREAD_SUSPEND_RESUME, False, entry.th32ThreadID), "OpenThread")
                    try:
                        if self._k.ResumeThread(thread) == 0xFFFFFFFF:
                            raise ctypes.WinError(ctypes.get_last_error(), "ResumeThread failed")
                        resumed += 1
                    finally:
                        self._k.CloseHandle(thread)
                more = self._k.Thread32Next(snapshot, ctypes.byref(entry))
        finally:
            self._k.CloseHandle(snapshot)
        if not resumed:
            raise OSError(f"found no thread of process {pid} to resume")

    def pids(self) -> list[int]:
        """The processes in the job now (ended ones are not listed)."""
        capacity = 64
        while True:
            info = _process_id_list(capacity)
            ok = self._k.QueryInformationJobObject(self.handle, JOB_OBJECT_BASIC_PROCESS_ID_LIST, ctypes.byref(info),
                                                   ctypes.sizeof(info), None)
            if ok:
                return [int(info.ProcessIdList[i]) for i in range(info.NumberOfProcessIdsInList)]
            if ctypes.get_last_error() != ERROR_MORE_DATA:
                raise ctypes.WinError(ctypes.get_last_error(), "QueryInformationJobObject failed")
            capacity *= 4

    def terminate(self, exit_code: int = 1) -> None:
        _check(self._k.TerminateJobObject(self.handle, exit_code), "TerminateJobObject")

    def wait_empty(self, timeout_s: float) -> bool:
        """True once no process is left in the job (TerminateJobObject returns before they end)."""
        end = time.monotonic() + timeout_s
        while self.pids():
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Closing the last handle ends whatever is still in the job (KILL_ON_JOB_CLOSE)."""
        if self.handle:
            self._k.CloseHandle(self.handle)
            self.handle = None
