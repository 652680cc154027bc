"""Step 3: at the detector's recalls (cross-validated on its training messages), how many of
the validation sets' ordinary questions each reader would put a notice under.

Usage: analyse.py FOLDER_OF_NPZ [DATA]"""

import json
import sys
from pathlib import Path

import numpy as np

CATS = ("suicide", "emergency", "treatment_decision")
RECALLS = (0.98, 0.995)


def main():
    folder = Path(sys.argv[1])
    data = Path(sys.argv[2] if len(sys.argv) > 2 else "build/safety_exp")
    d = np.load(data / "data.npz")
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    y, from_bank = d["y"], d["from_bank"]
    shipped = np.array([[v["p"].get(c, 0.0) for c in CATS] for v in meta["val"]])
    t = meta["thresholds"]
    print(
        f"{len(shipped)} ordinary validation questions; bank ordinary texts {int(((y == 0) & from_bank).sum())}"
    )
    print("shipped detector (its own cross-validated thresholds):")
    for name, key in (("0.98", "notice"), ("0.995", "refusal_notice")):
        rates = [float((shipped[:, k] >= t[key][c]).mean()) for k, c in enumerate(CATS)]
        anyr = float(
            np.any([shipped[:, k] >= t[key][c] for k, c in enumerate(CATS)], axis=0).mean()
        )
        print(
            f"  recall {name}: "
            + "  ".join(f"{c[:8]} {r:.3f}" for c, r in zip(CATS, rates, strict=True))
            + f"  any {anyr:.3f}"
        )
    for f in sorted(folder.glob("*.npz")):
        r = np.load(f)
        print(f"{f.stem}:")
        for recall in RECALLS:
            cells, flags = [], []
            for k, c in enumerate(CATS):
                pos = r["highest"][y == k + 1, k]
                th = float(np.quantile(pos, 1 - recall))
                val = r["val"][:, k] >= th
                bank_ord = r["highest"][(y == 0) & from_bank, k] >= th
                flags.append(val)
                cells.append(f"{c[:8]} {val.mean():.3f} (bank {bank_ord.mean():.3f}, th {th:.4f})")
            print(
                f"  recall {recall}: "
                + "  ".join(cells)
                + f"  any {np.any(flags, axis=0).mean():.3f}"
            )


if __name__ == "__main__":
    main()
