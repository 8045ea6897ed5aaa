"""The Slurm target's text parts: the batch script and sbatch command line, Slurm's states in
LabDeck's words, sinfo's partitions, and the node settings refused where they enter."""

from __future__ import annotations

import subprocess

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Node, SlurmSettings, Transport
from labdeck.core.status import NodeRunStatus
from labdeck.executors.base import LaunchLimits
from labdeck.executors.slurm.batch_script import (ArrayShape, array_spec, batch_script, encode_array_task, items_script,
                                                  parse_job_id, sbatch_argv, slurm_job_key, time_limit)
from labdeck.executors.slurm.cluster_info import gpu_count, parse_sinfo
from labdeck.executors.slurm.queue import split_rc
from labdeck.executors.slurm.states import JobState, end_status, parse_sacct, parse_squeue


def test_resources_and_timeout_become_sbatch_options_after_the_nodes_own():
    settings = SlurmSettings(partition="gpu", account="lab42", sbatch_args=["--qos=short"])
    argv = sbatch_argv(".labdeck/runs/r1", "labdeck-r1", settings,
                       LaunchLimits(cpus=1.5, memory_mb=4096, gpus=2, timeout_s=3601))
    assert argv == ["sbatch", "--parsable", "--job-name=labdeck-r1", "--open-mode=append",
                    "--output=.labdeck/runs/r1/out", "--error=.labdeck/runs/r1/err", "--partition=gpu",
                    "--account=lab42", "--cpus-per-task=2", "--mem=4096M", "--gres=gpu:2", "--time=0-01:01:00",
                    "--qos=short", ".labdeck/runs/r1/batch.sh", ".labdeck/runs/r1"]
    plain = sbatch_argv("d", "n", SlurmSettings(), LaunchLimits())
    assert not any(a.startswith(("--cpus", "--mem", "--gres", "--time", "--partition")) for a in plain)


def test_an_array_is_one_sbatch_with_its_slot_limit_and_a_file_per_task():
    argv = sbatch_argv("d", "n", SlurmSettings(), LaunchLimits(), ArrayShape(tuple(range(1000)), 4))
    assert "--array=0-999%4" in argv and "--output=d/out.%a" in argv and "--error=d/err.%a" in argv
    assert "--array=0-19" in sbatch_argv("d", "n", SlurmSettings(), LaunchLimits(), ArrayShape(tuple(range(20))))


@pytest.mark.parametrize("seconds, limit", [(5, "0-00:01:00"), (60, "0-00:01:00"), (61, "0-00:02:00"),
                                            (86400 + 90, "1-00:02:00")])
def test_time_limits_round_up_to_slurms_minutes(seconds, limit):
    assert time_limit(seconds) == limit


def test_the_batch_script_runs_steps_until_one_fails_and_writes_the_marker(tmp_path):
    script = batch_script(["/bin/sh -c 'echo one'", "/bin/sh -c 'exit 3'", "/bin/sh -c 'echo never'"],
                          {"LABDECK_OPTION_X": "it's $HOME; rm -rf /"})
    path = tmp_path / "batch.sh"
    path.write_text(script)
    result = subprocess.run(["/bin/sh", str(path), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 3 and result.stdout == "one\n"
    assert (tmp_path / "exit").read_text() == "3 2\n"
    assert "export LABDECK_OPTION_X='it'\"'\"'s $HOME; rm -rf /'\n" in script


def test_an_array_task_writes_its_own_marker_and_gets_its_index(tmp_path):
    path = tmp_path / "batch.sh"
    path.write_text(batch_script(['/bin/sh -c \'echo "task $LABDECK_ARRAY_INDEX: $LABDECK_ITEM"\''], {}, array=True))
    (tmp_path / "items.sh").write_text(items_script({6: "six", 7: "it's\n$(seven)"}))
    result = subprocess.run(["/bin/sh", str(path), str(tmp_path)], capture_output=True, text=True,
                            env={"SLURM_ARRAY_TASK_ID": "7", "PATH": "/usr/bin:/bin"})
    assert result.stdout == "task 7: it's\n$(seven)\n" and (tmp_path / "exit.7").read_text() == "0 1\n"


def test_a_rerun_of_some_items_is_one_array_with_a_list_of_ranges():
    assert array_spec([0, 1, 2, 5, 7, 8], 3) == "0-2,5,7-8%3"
    assert slurm_job_key(encode_array_task(123456, 7)) == "123456_7" and slurm_job_key(123456) == "123456"


def test_sbatch_job_ids_and_exit_codes_are_read_from_its_output():
    assert parse_job_id("1234\n") == 1234 and parse_job_id("99;cluster2\n") == 99
    assert parse_job_id("sbatch: error: invalid partition specified: nope\n") is None
    assert split_rc("1234\nLABDECK_RC=0\n") == ("1234\n", 0)
    assert split_rc("sbatch: error: x\nLABDECK_RC=1\n") == ("sbatch: error: x\n", 1)


def test_squeue_states_pending_with_reason_is_waiting_and_completing_is_not_an_end():
    jobs = parse_squeue("12|PENDING|Resources\n13|COMPLETING|None\n14_3|RUNNING|None\n15|OUT_OF_MEMORY|OutOfMemory\n")
    assert jobs["12"].waiting and jobs["12"].reason == "Resources"
    assert jobs["13"].running and not jobs["13"].ended
    assert jobs["14_3"].running
    assert jobs["15"].ended


def test_sacct_parsable2_keeps_out_of_memory_whole_and_reads_signals():
    jobs = parse_sacct("20|OUT_OF_MEMORY|0:125\n21|CANCELLED by 0|0:15\n22|COMPLETED|0:0\n")
    assert jobs["20"].state == "OUT_OF_MEMORY"
    assert jobs["21"].state == "CANCELLED" and jobs["21"].exit_code == 128 + 15
    assert jobs["22"].exit_code == 0


@pytest.mark.parametrize("state, status, words", [
    ("TIMEOUT", NodeRunStatus.TIMED_OUT, "Slurm: TIMEOUT"),
    ("OUT_OF_MEMORY", NodeRunStatus.FAILED, "Slurm: OUT_OF_MEMORY"),
    ("NODE_FAIL", NodeRunStatus.UNREACHABLE, "Slurm: NODE_FAIL"),
    ("CANCELLED", NodeRunStatus.CANCELLED, "Slurm: CANCELLED"),
    ("PREEMPTED", NodeRunStatus.CANCELLED, "Slurm: PREEMPTED"),
    ("FAILED", NodeRunStatus.FAILED, "Slurm: FAILED"),
])
def test_end_states_map_to_node_run_statuses_with_slurms_name(state, status, words):
    got, message = end_status(JobState("1", state), None)
    assert got is status and message.startswith(words)


def test_completed_with_a_non_zero_marker_is_a_failure():
    assert end_status(JobState("1", "COMPLETED"), 0) == (NodeRunStatus.SUCCEEDED, "")
    assert end_status(JobState("1", "COMPLETED"), 2)[0] is NodeRunStatus.FAILED


def test_sinfo_partitions_count_free_cpus_and_gpus_per_node_once():
    info = parse_sinfo("slurm-wlm 22.05.8\n"
                       "debug|n1|mix|1/3/0/4|gpu:2|gpu:1|8000|\n"
                       "debug|n2|idle|0/4/0/4|gpu:a100:4(S:0-1)|gpu:a100:0(IDX:N/A)|8000|\n"
                       "long|n1|mix|1/3/0/4|gpu:2|gpu:1|8000|\n"
                       "long|n3|down*|0/0/8/8|(null)|gpu:0|16000|\n")
    assert info.version == "22.05.8"
    debug, long = info.partitions
    assert debug.load() == "debug: 2 nodes, 7/8 CPUs free, 5/6 GPUs free"
    assert long.load() == "long: 2 nodes, 3/12 CPUs free, 1/2 GPUs free, 1 down or drained"
    assert info.totals() == {"cpus": 16, "memory_mb": 32000, "gpus": 6}
    assert gpu_count("gpu:tesla:2,gpu:k80:1,nic:1") == 3 and gpu_count("(null)") == 0


@pytest.mark.parametrize("settings, words", [
    ({"partition": "gpu; rm"}, "Slurm partition 'gpu; rm' is not a name"),
    ({"sbatch_args": ["qos=short"]}, "is not an sbatch option"),
    ({"sbatch_args": ["--array=1-3"]}, "LabDeck sets --array itself"),
    ({"sbatch_args": ["-ofile"]}, "LabDeck sets -ofile itself"),
    ({"sbatch_args": ["--partition=x"]}, "use --partition / --account"),
])
def test_slurm_settings_are_refused_in_one_line(settings, words):
    with pytest.raises(InvalidInput, match=words.replace("(", r"\(")):
        SlurmSettings(**settings)


def test_a_slurm_node_is_reached_over_ssh_on_port_22_by_default():
    from labdeck.executors.registry import factory_for
    node = Node("hpc", Transport.SLURM, host="login")
    assert node.effective_port == 22
    assert factory_for("slurm").over_ssh and factory_for("slurm").always_detached
    with pytest.raises(InvalidInput, match="needs --user for the cluster's login node"):
        factory_for("slurm").validate(node)


def test_the_queue_shares_one_squeue_between_jobs_and_refreshes_for_a_new_submission():
    from labdeck.executors.slurm.queue import SlurmQueue
    calls = []

    def run_quick(command, timeout):
        calls.append(command)
        return "5|RUNNING|None\n6_0|PENDING|Resources\n6_1|PENDING|JobArrayTaskLimit\nLABDECK_RC=0\n"

    queue = SlurmQueue(run_quick, max_age_s=60)
    assert queue.state("5").running and queue.state("6_0").reason == "Resources"
    assert queue.state("6_1").waiting and queue.state("7") is None
    assert len(calls) == 1  # four jobs asked, one squeue
    queue.submitted(6)
    for i in range(3):
        queue.state(f"6_{i}")
    assert len(calls) == 2  # a new array: one fresh snapshot for all its tasks
