"""Stage ``prepare``: read the raw customer table and split it into train and test sets.

Writes ``data/prepared/train.csv`` and ``data/prepared/test.csv``; the split is stratified on
``churned`` so both halves keep the churn rate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

RAW = Path("data/customers.csv")
OUT = Path("data/prepared")
TARGET = "churned"


def load_params(section: str) -> dict:
    """Return one section of ``params.yaml``."""
    with open("params.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)[section]


def split(df: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test): rows without a label are dropped, the rest split stratified."""
    df = df.dropna(subset=[TARGET])
    train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df[TARGET])
    return train, test


def main() -> None:
    params = load_params("prepare")
    train, test = split(pd.read_csv(RAW), params["test_size"], params["seed"])
    OUT.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT / "train.csv", index=False)
    test.to_csv(OUT / "test.csv", index=False)
    print(f"prepare: {len(train)} train / {len(test)} test customers")


if __name__ == "__main__":
    main()
