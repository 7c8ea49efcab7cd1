"""The machine's CPU as the benchmark scripts record it beside their numbers (scripts/bench-gemm,
scripts/bench-threads). A module, not a command: the scripts import it from their own folder."""


def cpuinfo():
    """The first processor's fields of /proc/cpuinfo (model name, cpu family, model, flags)."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    return info


def cpu_label(info):
    """'AMD EPYC (family 25 model 17)': the model name with the family and model that tell CPU
    generations with one marketing name apart."""
    return (f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')} "
            f"model {info.get('model', '?')})")
