"""Time and storage cost of envelope encryption per page (issue 11).

    .venv/bin/python benchmarks/envelope.py --pages 30 --out benchmarks/results/envelope.json

A filled sample form (form_definitions/nyuyoji_kenshin) is rendered and rasterised at the
worker's 200 dpi; per page the worker stores one page PNG, one PNG crop per field and one value
per field. The same bytes are stored twice in a temp folder on this disk: once as plain files
(``LocalObjectStore``, temp file + fsync + rename, i.e. the raw storage cost) and once through
``BlobStore`` with the document's data key (AES-256-GCM, associated data) plus the values sealed
with ``seal_with``; then read back. Per document a data key is created (HKDF-derived KEK wraps it,
key file written with fsync) and loaded again. Reported: median ms per page for write and read,
the encryption overhead, bytes per page, and per-document key costs. Timings depend on the disk
and on what else runs; the JSON records the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _page_payload() -> tuple[bytes, list[bytes], list[str]]:
    import numpy as np
    from pdf2image import convert_from_bytes

    from tests.factories import sample_source
    from tests.support.render import render_filled_pdf, sample_values_for
    from workers.pipeline.imaging import encode_png

    source = sample_source()
    values = sample_values_for(source.layout)
    pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=5)
    (image,) = convert_from_bytes(pdf, dpi=200, grayscale=True)
    page = np.asarray(image)
    scale = 200 / 72
    crops = []
    for spec in source.layout.fields:
        x0, y0, x1, y1 = (round(v * scale) for v in spec.box)
        crops.append(encode_png(page[max(0, y0 - 4) : y1 + 4, max(0, x0 - 4) : x1 + 4]))
    texts = [("1" if v else "0") if isinstance(v, bool) else str(v) for v in values.values()]
    return encode_png(page), crops, texts


class _MemoryObjects:
    """An ObjectStore in memory: isolates the cost of the cryptography from the disk's fsync."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes) -> None:
        self.data[key] = data

    def get_bytes(self, key: str) -> bytes:
        return self.data[key]

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.data

    def iter_keys(self) -> Any:
        return iter(list(self.data))

    def modified_at(self, key: str) -> float:
        return 0.0

    def check(self) -> None:
        return None


def _crypto_only(blobs: list[bytes], texts: list[str], rounds: int) -> dict[str, float]:
    """Median ms per page to encrypt (and decrypt) a page's blobs and values, no disk involved."""
    from ocr_service.keys.datakey import DataKey
    from ocr_service.keys.service import open_with, seal_with
    from ocr_service.storage.blobs import BlobStore

    store = BlobStore(_MemoryObjects())
    dek = DataKey(owner="0" * 32, secret=os.urandom(32))
    enc, dec = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        keys = [store.put(b, dek=dek) for b in blobs]
        sealed = [
            seal_with(dek, document_id=dek.owner, purpose=f"v|{n}", value=t) for n, t in enumerate(texts)
        ]
        enc.append(time.perf_counter() - start)
        start = time.perf_counter()
        for key in keys:
            store.get(key, dek=dek)
        for n, value in enumerate(sealed):
            open_with(dek, document_id=dek.owner, purpose=f"v|{n}", sealed=value)
        dec.append(time.perf_counter() - start)
    return {
        "encrypt_ms_per_page": round(statistics.median(enc) * 1000, 3),
        "decrypt_ms_per_page": round(statistics.median(dec) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from ocr_service.keys.kek import KeyRing
    from ocr_service.keys.keystore import FileKeyStore
    from ocr_service.keys.service import Keys, open_with, seal_with
    from ocr_service.storage.backends import LocalObjectStore
    from ocr_service.storage.blobs import BlobStore

    page_png, crops, texts = _page_payload()
    blobs = [page_png, *crops]
    plain_bytes = sum(len(b) for b in blobs)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        plain_store = LocalObjectStore(root / "plain")
        store = BlobStore(LocalObjectStore(root / "enc"))
        keys = Keys(KeyRing.from_materials("benchmark-storage-key", []), FileKeyStore(root / "keys"))
        plain_w, plain_r, enc_w, enc_r, key_create, key_load = [], [], [], [], [], []
        sealed_sizes = []
        for index in range(args.pages):
            owner = f"{index:032x}"
            start = time.perf_counter()
            names = [f"{index:016x}{n:016x}" for n in range(len(blobs))]
            for name, data in zip(names, blobs, strict=True):
                plain_store.put_bytes(name, data)
            plain_w.append(time.perf_counter() - start)
            start = time.perf_counter()
            for name in names:
                plain_store.get_bytes(name)
            plain_r.append(time.perf_counter() - start)

            start = time.perf_counter()
            dek = keys.create(owner)
            key_create.append(time.perf_counter() - start)
            start = time.perf_counter()
            stored = [store.put(data, dek=dek) for data in blobs]
            sealed = [
                seal_with(dek, document_id=owner, purpose=f"field_results.value|{n}", value=t)
                for n, t in enumerate(texts)
            ]
            enc_w.append(time.perf_counter() - start)
            sealed_sizes.append(sum(len(s.encode()) for s in sealed))
            start = time.perf_counter()
            loaded = keys.load(owner)
            key_load.append(time.perf_counter() - start)

            start = time.perf_counter()
            for key in stored:
                store.get(key, dek=loaded)
            for n, s in enumerate(sealed):
                open_with(loaded, document_id=owner, purpose=f"field_results.value|{n}", sealed=s)
            enc_r.append(time.perf_counter() - start)
        enc_bytes = sum(p.stat().st_size for p in (root / "enc").rglob("*") if p.is_file()) / args.pages
        key_bytes = sum(p.stat().st_size for p in (root / "keys").rglob("*.key")) / args.pages

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 3)

    text_plain = sum(len(t.encode()) for t in texts)
    result = {
        "pages": args.pages,
        "blobs_per_page": len(blobs),
        "fields_per_page": len(texts),
        "crypto_only": _crypto_only(blobs, texts, args.pages),
        "write_ms_per_page": {
            "plain": ms(plain_w),
            "envelope": ms(enc_w),
            "overhead": round(ms(enc_w) - ms(plain_w), 3),
        },
        "read_ms_per_page": {
            "plain": ms(plain_r),
            "envelope": ms(enc_r),
            "overhead": round(ms(enc_r) - ms(plain_r), 3),
        },
        "data_key_per_document_ms": {"create_wrap_write": ms(key_create), "load_unwrap": ms(key_load)},
        "bytes_per_page": {
            "blobs_plain": plain_bytes,
            "blobs_encrypted": round(enc_bytes),
            "blob_overhead_pct": round((enc_bytes - plain_bytes) / plain_bytes * 100, 3),
            "values_plain": text_plain,
            "values_sealed": round(statistics.mean(sealed_sizes)),
        },
        "key_file_bytes_per_document": round(key_bytes),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load": os.getloadavg(),
        },
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
