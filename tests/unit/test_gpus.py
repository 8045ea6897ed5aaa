"""GPUs as devices: the probe's list, the device indexes placement chooses from, the task's environment."""

from labdeck.core.gpus import device_indexes, gpu_environment, parse_gpu_list


def test_the_probe_list_keeps_each_gpus_index_name_and_memory():
    assert parse_gpu_list("0|NVIDIA A100-SXM4-40GB|40960;1|Tesla T4, rev 2|15360;") == [
        {"index": 0, "name": "NVIDIA A100-SXM4-40GB", "memory_mb": 40960},
        {"index": 1, "name": "Tesla T4, rev 2", "memory_mb": 15360}]
    assert parse_gpu_list("") == [] and parse_gpu_list("garbage") == []


def test_devices_come_from_the_probe_else_from_a_count_set_by_hand():
    assert device_indexes({"gpu_list": [{"index": 3}, {"index": 1}]}, 8) == [1, 3]
    assert device_indexes({}, 2) == [0, 1]
    assert device_indexes({}, None) == []


def test_a_task_sees_its_devices_in_both_variables():
    assert gpu_environment([0, 2]) == {"CUDA_VISIBLE_DEVICES": "0,2", "LABDECK_GPUS": "0,2"}
