"""Stage ``featurize``: turn prepared customer rows into numeric model features.

Writes ``data/features/train.csv`` and ``data/features/test.csv`` (features plus ``churned``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prepare import TARGET, load_params

PREPARED = Path("data/prepared")
OUT = Path("data/features")
CONTRACTS = ("month-to-month", "one-year", "two-year")


def build(df: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Return the feature table for ``df``: numeric columns, one-hot contract, optional ratios, label last."""
    features = pd.DataFrame(
        {
            "tenure_months": df["tenure_months"],
            "monthly_charges": df["monthly_charges"],
            "support_calls": df["support_calls"],
        }
    )
    # Fixed category list, so train and test (and any later data) get the same columns.
    for contract in CONTRACTS:
        features[f"contract_{contract.replace('-', '_')}"] = (df["contract"] == contract).astype(int)
    if params["charges_per_tenure"]:
        features["charges_per_tenure"] = (df["monthly_charges"] / df["tenure_months"].clip(lower=1)).round(4)
    features["high_support"] = (df["support_calls"] >= params["high_support_calls"]).astype(int)
    features[TARGET] = df[TARGET].astype(int)
    return features


def main() -> None:
    params = load_params("featurize")
    OUT.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        build(pd.read_csv(PREPARED / f"{part}.csv"), params).to_csv(OUT / f"{part}.csv", index=False)
    print(f"featurize: wrote {OUT}/train.csv and {OUT}/test.csv")


if __name__ == "__main__":
    main()
