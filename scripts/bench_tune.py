"""Benchmark test-time learning and answering on the default 135M model.

Per device and training dtype (fp32, and bf16 on a GPU or a CPU that multiplies it natively): seconds per LoRA
step at 128/256/512 tokens (median), tokens/s, and, measured side by side in the same run, a plain-torch
forward+backward of the same model at the same length (all weights trainable, no peft) with the ratio
between the two, and each dtype's step time over fp32's, also with a LoRA on the top half of the layers only
(``lora_layers`` 0.5, the default); peak memory; TrainingModel load time
cold (dequantise the GGUF) and warm (safetensors cache); GGUF export time; llama.cpp tokens/s with
and without the adapter.

    python scripts/bench_tune.py [--device auto] [--repeats 5] [--out .bench/bench_tune.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from _timing import median_of

import assistant  # noqa: F401  (sets the offline / no-progress-bar environment before torch and tqdm load)


median_s = median_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(".bench/bench_tune.json"))
    args = parser.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from assistant.answer.generator import Generator
    from assistant.answer.prompt import build_messages
    from assistant.learn.lora_gguf import export_gguf
    from assistant.models.locate import default_gguf, pick_device, set_threads
    from assistant.learn.tune import TrainConfig, TrainingModel, cpu_has_bf16, fit_lora

    device = pick_device(args.device)
    threads = set_threads()
    gguf = default_gguf()
    cache = Path(tempfile.mkdtemp(prefix="bench-tune-"))
    cold = TrainingModel(gguf, device, cache)
    warm = TrainingModel(gguf, device, cache)
    tm = warm
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text() * 4
    dtypes = ["float32"] + (["bfloat16"] if device == "cuda" or (device == "cpu" and cpu_has_bf16()) else [])
    by_dtype = {name: TrainingModel(gguf, device, cache, name) for name in dtypes}

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    rows = []
    # Each dtype with a LoRA on every layer, and fp32 with the product's default, the top half (lora_layers).
    variants = [(name, 1.0) for name in dtypes] + [("float32", 0.5)]
    for length in (128, 256, 512):
        for name, layers in variants:
            model, cfg = by_dtype[name], TrainConfig(max_tokens=length, layers=layers)

            def lora_steps(cfg=cfg, model=model):
                fit_lora(model, [text] * 4, cfg)
                sync()

            lora_step = median_s(lora_steps, args.repeats) / 4
            plain = model.model if model._peft is None else model._peft.base_model.model
            ids = model.encode(text, length)

            def plain_fwd_bwd(model=model, plain=plain, ids=ids):
                with model._peft.disable_adapter() if model._peft is not None else torch.enable_grad():
                    plain.requires_grad_(True)
                    loss = plain(input_ids=ids, labels=ids).loss
                    loss.backward()
                    plain.zero_grad(set_to_none=True)
                    plain.requires_grad_(False)
                sync()

            plain_s = median_s(plain_fwd_bwd, args.repeats)
            rows.append({"dtype": name, "layers": layers, "tokens": length, "lora_step_s": lora_step,
                         "tokens_per_s": length / lora_step,
                         "plain_fwd_bwd_s": plain_s, "ratio": lora_step / plain_s})  # fmt: skip
    fp32 = {r["tokens"]: r["lora_step_s"] for r in rows if r["dtype"] == "float32" and r["layers"] == 1.0}
    for r in rows:
        r["vs_fp32"] = r["lora_step_s"] / fp32[r["tokens"]]
    tm.fresh_lora(TrainConfig())
    if device == "cuda":
        torch.cuda.synchronize()
        t = time.perf_counter()
        fit_lora(tm, [text] * 50, TrainConfig(max_tokens=256))
        torch.cuda.synchronize()
        fifty = time.perf_counter() - t
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        fifty = None
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = fit_lora(tm, [text] * 8, TrainConfig(max_tokens=256))
    t = time.perf_counter()
    adapter = export_gguf(result, tm, cache / "adapter.gguf")
    export_s = time.perf_counter() - t

    gen = Generator(gguf, n_ctx=1024)
    messages = build_messages("Write a short paragraph about local assistants that learn at question time.", None)

    def tokens_per_s(path):
        gen.set_adapter(path)
        counts = []

        def run():
            counts.append(0)
            gen.generate(messages, max_tokens=128, on_token=lambda _: counts.__setitem__(-1, counts[-1] + 1))

        seconds = median_s(run, 3)
        return statistics.median(counts) / seconds

    gen_base = tokens_per_s(None)
    gen_adapter = tokens_per_s(adapter)
    gen.close()

    summary = {
        "device": device,
        "threads": threads,
        "auto_dtype": str(tm.dtype).removeprefix("torch."),
        "steps": rows,
        "load_cold_s": cold.load_seconds,
        "load_warm_s": warm.load_seconds,
        "export_s": export_s,
        "peak_memory_mb": peak_mb,
        "fifty_steps_256_s": fifty,
        "llama_cpp_tokens_per_s": {"base": gen_base, "adapter": gen_adapter},
    }
    table = Table("dtype", "LoRA layers", "tokens", "LoRA step", "tokens/s", "plain fwd+bwd", "LoRA / plain",
                  "step vs fp32, all layers",
                  title=f"LoRA steps on SmolLM2-135M, {device}, {threads} threads (auto picks {summary['auto_dtype']})")  # fmt: skip
    for r in rows:
        layers = "all" if r["layers"] == 1.0 else f"top {r['layers']:.0%}"
        table.add_row(r["dtype"], layers, str(r["tokens"]), f"{r['lora_step_s']:.3f} s", f"{r['tokens_per_s']:.0f}",
                      f"{r['plain_fwd_bwd_s']:.3f} s", f"{r['ratio']:.2f}x", f"{r['vs_fp32']:.2f}x")  # fmt: skip
    Console().print(table)
    other = Table("measure", "value")
    other.add_row("load, cold (dequantise GGUF)", f"{cold.load_seconds:.1f} s")
    other.add_row("load, warm (safetensors cache)", f"{warm.load_seconds:.2f} s")
    other.add_row("export adapter GGUF", f"{export_s * 1000:.0f} ms")
    other.add_row("peak memory", f"{peak_mb:.0f} MB")
    other.add_row("llama.cpp tokens/s, base", f"{gen_base:.0f}")
    other.add_row("llama.cpp tokens/s, with adapter", f"{gen_adapter:.0f}")
    if fifty is not None:
        other.add_row("50 steps x 256 tokens", f"{fifty:.1f} s")
    Console().print(other)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
