"""GPUs as devices: a node's GPUs as its probe reports them (index, name, memory), and the
environment that gives a task its own devices. No I/O."""

from __future__ import annotations

# The probe scripts ask nvidia-smi for "index, name, memory.total" per GPU and join the fields
# with "|" and the GPUs with ";" (a name may hold commas, never those two).


def parse_gpu_list(text: str) -> list[dict]:
    """``0|NVIDIA A100|40960;1|...`` -> [{"index": 0, "name": "NVIDIA A100", "memory_mb": 40960}, ...]."""
    gpus = []
    for entry in str(text).split(";"):
        fields = [f.strip() for f in entry.split("|")]
        if len(fields) < 2 or not fields[0].isdigit():
            continue
        memory = fields[2] if len(fields) > 2 else ""
        gpus.append({"index": int(fields[0]), "name": fields[1],
                     "memory_mb": int(float(memory)) if memory.replace(".", "", 1).isdigit() else None})
    return gpus


def device_indexes(probe: dict, count: float | None) -> list[int]:
    """The node's GPU indexes: from its probe's list, else 0..count-1 (a count set by hand)."""
    listed = probe.get("gpu_list")
    if isinstance(listed, list) and listed:
        return sorted(int(g["index"]) for g in listed if isinstance(g, dict) and "index" in g)
    return list(range(int(count or 0)))


def gpu_environment(devices: list[int]) -> dict[str, str]:
    """What a task with these GPUs sees: CUDA_VISIBLE_DEVICES (CUDA, PyTorch, TensorFlow) and LABDECK_GPUS."""
    text = ",".join(str(d) for d in devices)
    return {"CUDA_VISIBLE_DEVICES": text, "LABDECK_GPUS": text}
