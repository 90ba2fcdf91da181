"""PyTorch + transformers peer for bench/gpu/run.sh: the same random-weight model folders, on the same GPU.

Prints Markdown rows: prefill and decode tokens/s (eager attention, KV cache, median of repetitions), the overhead of
output_hidden_states, of a forward hook adding a vector to every decoder layer's output, and the device's measured
copy bandwidth (device-to-device, and device-to-pinned-host).
"""
import argparse, statistics, time
import torch
from transformers import AutoModelForCausalLM


def timed(fn, reps=5):
    fn()  # warm-up
    samples = []
    for _ in range(reps):
        torch.cuda.synchronize(); t = time.perf_counter(); fn(); torch.cuda.synchronize()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def copy_bandwidth():
    n = 1 << 28  # 1 GiB of float32
    a = torch.empty(n, dtype=torch.float32, device="cuda"); b = torch.empty_like(a)
    d2d = 2 * a.numel() * 4 / timed(lambda: b.copy_(a))
    host = torch.empty(n, dtype=torch.float32, pin_memory=True)
    d2h = a.numel() * 4 / timed(lambda: host.copy_(a, non_blocking=True))
    return d2d / 1e9, d2h / 1e9


def decoder_layers(model):
    for path in ("model.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        try:
            for part in path.split("."): obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise RuntimeError("no decoder layers found")


def bench(folder, prompt_tokens, gen_tokens, batch):
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype="auto", attn_implementation="eager").cuda().eval()
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, prompt_tokens), device="cuda")
    rows = []

    def prefill(**kw):
        with torch.no_grad(): model(ids, use_cache=True, **kw)

    def decode(**kw):
        with torch.no_grad():
            out = model(ids, use_cache=True)
            past, nxt = out.past_key_values, ids[:, -1:]
            t = time.perf_counter(); torch.cuda.synchronize()
            for _ in range(gen_tokens):
                out = model(nxt, past_key_values=past, use_cache=True, **kw)
                past = out.past_key_values
            torch.cuda.synchronize()
            return time.perf_counter() - t

    base_p = timed(prefill)
    base_d = statistics.median(decode() for _ in range(3))
    rows.append(("plain", batch * prompt_tokens / base_p, batch * gen_tokens / base_d))
    hs_p = timed(lambda: prefill(output_hidden_states=True))
    hs_d = statistics.median(decode(output_hidden_states=True) for _ in range(3))
    rows.append(("output_hidden_states", batch * prompt_tokens / hs_p, batch * gen_tokens / hs_d))
    vector = torch.randn(model.config.hidden_size, device="cuda", dtype=model.dtype) * 0.01
    handles = [layer.register_forward_hook(lambda m, i, o: ((o[0] + vector,) + tuple(o[1:])) if isinstance(o, tuple) else o + vector)
               for layer in decoder_layers(model)]
    st_p = timed(prefill)
    st_d = statistics.median(decode() for _ in range(3))
    for h in handles: h.remove()
    rows.append(("hook adds a vector at every layer", batch * prompt_tokens / st_p, batch * gen_tokens / st_d))
    name = folder.rstrip("/").split("/")[-1]
    for label, pp, tg in rows:
        print(f"| transformers {torch.__version__} | {name} | {batch} | {label} | {pp:,.0f} | {tg:,.1f} |")
    del model; torch.cuda.empty_cache()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    a = ap.parse_args()
    d2d, d2h = copy_bandwidth()
    print(f"copy bandwidth: device→device {d2d:,.0f} GB/s, device→pinned host {d2h:,.1f} GB/s\n")
    print("| peer | model | batch | variant | prefill tok/s | decode tok/s |\n|---|---|---|---|---:|---:|")
    for folder in a.models:
        for b in a.batches:
            bench(folder, a.prompt_tokens, a.gen_tokens, b)
